# imagegate container image: the same build as `make build`, static, run as non-root.
# syntax=docker/dockerfile:1
FROM golang:1.26-bookworm AS build
# Trivy (the scanner) needs encoding/json/v2 on Go 1.26.
ENV GOEXPERIMENT=jsonv2 CGO_ENABLED=0
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN make build VERSION=${VERSION} COMMIT=${COMMIT} && mkdir -p /out/data && cp bin/imagegate /out/

FROM gcr.io/distroless/static-debian12:nonroot
# distroless/static carries CA certificates and a nonroot user (65532).
COPY --from=build /out/imagegate /usr/local/bin/imagegate
COPY --from=build --chown=65532:65532 /out/data /var/lib/imagegate
WORKDIR /var/lib/imagegate
ENV IMAGEGATE_HTTP_ADDR=0.0.0.0:5000 \
    IMAGEGATE_DEBUG_ADDR=0.0.0.0:5001 \
    IMAGEGATE_STORAGE_FILESYSTEM_ROOTDIRECTORY=/var/lib/imagegate/registry
USER 65532:65532
VOLUME /var/lib/imagegate
EXPOSE 5000 5001
ENTRYPOINT ["/usr/local/bin/imagegate"]
CMD ["serve"]
