// upload.mjs: one file uploaded to a tus 1.0 endpoint by tus-js-client, a
// client that is not ours, for the e2e tests (e2e/tus_test.go).
//
//   node upload.mjs --endpoint URL --key KEY --file PATH [options]
//
// Options:
//   --chunk-size N    bytes per PATCH (default 4 MiB)
//   --store PATH      a URL storage file (tus-js-client's FileUrlStorage): a
//                     run finds the upload an earlier run of the same file
//                     began there and resumes it from the server's offset
//   --upload-url URL  resume this upload (no endpoint is given to the client
//                     then, so it cannot quietly begin a new one)
//   --name NAME       Upload-Metadata filename (default: the file's name)
//   --sha256 HEX      Upload-Metadata sha256: the hash declared at creation
//   --checksum ALGO   send Upload-Checksum (sha1, sha256 or md5) with every
//                     PATCH, computed in an onBeforeRequest hook over the
//                     chunk's bytes: tus-js-client has no checksum support
//                     of its own
//   --bad-checksum    the checksum of other bytes, for the server to refuse
//   --data-during-creation  tus-js-client's uploadDataDuringCreation
//
// It prints one JSON object a line on stdout, for the test to read:
//   {"event":"url","url":...}              the upload's URL is known
//   {"event":"resume","offset":N}          a HEAD said the server has N bytes
//   {"event":"progress","sent":N,"total":T}
//   {"event":"chunk","offset":N}           a PATCH was accepted up to N
//   {"event":"previous","url":...}         --store held an upload of this file
//   {"event":"response","method":M,"httpStatus":S,"offset":O}  every answer
//   {"event":"success","url":...,"fileId":...,"fileStatus":...,"headFileId":...}
//                                          the last answer's Perseus-File-Id and
//                                          Perseus-File-Status, and the fileId in
//                                          the Upload-Metadata of a HEAD after
//   {"event":"error","message":...,"httpStatus":S,"body":...}  then exit 1

import { createHash } from 'node:crypto'
import { createReadStream, promises as fs } from 'node:fs'
import { basename } from 'node:path'
import { FileUrlStorage, Upload } from 'tus-js-client'

function parseArgs(argv) {
  const flags = new Set(['--bad-checksum', '--data-during-creation'])
  const out = {}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`)
    if (flags.has(a)) {
      out[a.slice(2)] = true
    } else {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`)
      out[a.slice(2)] = argv[++i]
    }
  }
  return out
}

function emit(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`)
}

function fail(message, err) {
  const res = err?.originalResponse
  emit({
    event: 'error',
    message,
    httpStatus: res ? res.getStatus() : 0,
    body: res ? res.getBody() : '',
  })
  process.exit(1)
}

// The hex digest of bytes [start, end) of path.
async function digestOf(path, algo, start, end) {
  const h = createHash(algo)
  if (end > start) {
    for await (const b of createReadStream(path, { start, end: end - 1 })) h.update(b)
  }
  return h
}

// The fileId in a HEAD's Upload-Metadata ("key base64,key base64").
function fileIdOf(uploadMetadata) {
  for (const pair of (uploadMetadata || '').split(',')) {
    const [k, v] = pair.trim().split(' ')
    if (k === 'fileId') return Buffer.from(v || '', 'base64').toString('utf8')
  }
  return ''
}

async function main() {
  const args = parseArgs(process.argv.slice(2))
  const endpoint = args.endpoint || process.env.TUS_ENDPOINT
  const key = args.key || process.env.TUS_API_KEY
  const path = args.file
  if (!path || !key || !(endpoint || args['upload-url'])) {
    throw new Error('usage: node upload.mjs --endpoint URL --key KEY --file PATH [options]')
  }
  const chunkSize = Number(args['chunk-size'] || 4 << 20)
  const { size } = await fs.stat(path)
  const headers = { Authorization: `Bearer ${key}` }
  const metadata = { filename: args.name || basename(path), filetype: 'application/octet-stream' }
  if (args.sha256) metadata.sha256 = args.sha256

  const options = {
    endpoint: args['upload-url'] ? null : endpoint,
    uploadUrl: args['upload-url'] || null,
    headers,
    metadata,
    chunkSize,
    retryDelays: [0, 500, 1000],
    uploadDataDuringCreation: Boolean(args['data-during-creation']),
    onUploadUrlAvailable() {
      emit({ event: 'url', url: upload.url })
    },
    onProgress(sent, total) {
      // tus-js-client calls it at most every 100 ms within a PATCH, and at
      // each PATCH's start and end.
      emit({ event: 'progress', sent, total })
    },
    onChunkComplete(_n, accepted) {
      emit({ event: 'chunk', offset: accepted })
    },
    async onBeforeRequest(req) {
      if (!args.checksum || req.getMethod() !== 'PATCH') return
      const start = Number(req.getHeader('Upload-Offset'))
      const end = Math.min(start + chunkSize, size)
      const h = await digestOf(path, args.checksum, start, end)
      if (args['bad-checksum']) h.update('not these bytes')
      req.setHeader('Upload-Checksum', `${args.checksum} ${h.digest('base64')}`)
    },
    onAfterResponse(req, res) {
      const method = req.getMethod()
      const offset = res.getHeader('Upload-Offset')
      emit({ event: 'response', method, httpStatus: res.getStatus(), offset: offset == null ? null : Number(offset) })
      if (method === 'HEAD' && res.getStatus() === 200) {
        emit({ event: 'resume', offset: Number(offset) })
      }
    },
    onError(err) {
      fail(String(err?.message || err), err)
    },
    async onSuccess({ lastResponse }) {
      // The file's id from the last answer, and from a HEAD's metadata.
      const head = await fetch(upload.url, { method: 'HEAD', headers: { ...headers, 'Tus-Resumable': '1.0.0' } })
      emit({
        event: 'success',
        url: upload.url,
        fileId: lastResponse.getHeader('Perseus-File-Id') || '',
        fileStatus: lastResponse.getHeader('Perseus-File-Status') || '',
        headHttpStatus: head.status,
        headOffset: Number(head.headers.get('Upload-Offset')),
        headFileId: fileIdOf(head.headers.get('Upload-Metadata')),
      })
      process.exit(0)
    },
  }
  if (args.store) options.urlStorage = new FileUrlStorage(args.store)

  const upload = new Upload(createReadStream(path), options)
  if (args.store && !args['upload-url']) {
    const previous = await upload.findPreviousUploads()
    if (previous.length > 0) {
      emit({ event: 'previous', url: previous[0].uploadUrl })
      upload.resumeFromPreviousUpload(previous[0])
    }
  }
  upload.start()
}

main().catch((err) => fail(String(err?.message || err), err))
