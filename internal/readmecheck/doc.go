// Package readmecheck holds a test that compiles and vets the Go snippets
// of the repository's README.md, so they keep compiling as the API changes.
package readmecheck
