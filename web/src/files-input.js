// Files a person adds, named as the CLI names them: a file by its base
// name, a folder's files by their path from the folder's parent
// ("photos/2026/a.jpg"), "/"-separated; dotfiles and dot-folders (.git,
// .hg, .svn among them) met inside a folder are skipped.

/** hiddenInside reports whether a path has a dot-segment below its first. */
export function hiddenInside(path) {
  return path
    .split('/')
    .slice(1)
    .some((seg) => seg.startsWith('.'));
}

/** fromInput answers [{file, name}] for the files of an <input type=file>. */
export function fromInput(files) {
  const out = [];
  for (const file of files) {
    const rel = file.webkitRelativePath;
    if (rel) {
      if (!hiddenInside(rel)) out.push({ file, name: rel });
    } else {
      out.push({ file, name: file.name });
    }
  }
  return out;
}

// readAll answers every entry of a directory: readEntries gives them in
// batches, until an empty one.
async function readAll(dir) {
  const reader = dir.createReader();
  const all = [];
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) return all;
    all.push(...batch);
  }
}

function fileOf(entry) {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

async function walk(entry, out) {
  const path = entry.fullPath.replace(/^\/+/, '');
  if (entry.isFile) {
    out.push({ file: await fileOf(entry), name: path || entry.name });
    return;
  }
  if (!entry.isDirectory) return;
  const children = await readAll(entry);
  children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const child of children) {
    if (child.name.startsWith('.')) continue; // hidden inside a folder
    await walk(child, out);
  }
}

/**
 * fromDrop answers [{file, name}] for a drop. Its items must be read
 * before the event handler returns, so call it synchronously from the
 * handler; it walks folders after.
 */
export function fromDrop(dataTransfer) {
  const entries = [];
  const loose = [];
  const items = dataTransfer.items ? Array.from(dataTransfer.items) : [];
  for (const item of items) {
    if (item.kind !== 'file') continue;
    const entry = typeof item.webkitGetAsEntry === 'function' ? item.webkitGetAsEntry() : null;
    if (entry) entries.push(entry);
    else {
      const f = item.getAsFile();
      if (f) loose.push({ file: f, name: f.name });
    }
  }
  if (items.length === 0 && dataTransfer.files) {
    for (const f of dataTransfer.files) loose.push({ file: f, name: f.name });
  }
  return (async () => {
    const out = [...loose];
    for (const entry of entries) await walk(entry, out);
    return out;
  })();
}
