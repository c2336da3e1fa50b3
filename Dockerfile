# The perseus server (and CLI) as a static binary on distroless, running as
# an unprivileged user. Not exercised by the tests (README, "Running in
# production"); deploy/compose.yaml builds it.
#
#   docker build -t perseus .
#   docker run -p 8080:8080 -v perseus-data:/data perseus

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The SQLite driver is pure Go: no cgo, no libc.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/perseus ./cmd/perseus \
	&& mkdir /out/data

# static-debian12 has CA certificates, tzdata and /etc/passwd with nonroot
# (uid 65532), and nothing else: no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/perseus /perseus
# A fresh volume at /data takes this directory's owner: the nonroot user.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
EXPOSE 8080
VOLUME ["/data"]
ENTRYPOINT ["/perseus"]
CMD ["serve", "--addr", "0.0.0.0:8080", "--data", "/data"]
