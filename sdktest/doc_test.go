// Package sdktest holds the Go SDK's tests against a real server in the same process (SQLite and a local directory, or S3 and PostgreSQL when the test environment has them), apart from the SDK's own package so that importing the SDK brings none of the server's dependencies.
package sdktest
