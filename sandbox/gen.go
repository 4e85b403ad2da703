package sandbox

//go:generate go run ./internal/mksysnames amd64=x86_64 arm64=aarch64
