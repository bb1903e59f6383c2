// Package fuzz holds the fuzz targets for every decoder in weft; CI runs each
// briefly (see .ci/run).
//
// Run one target at a time, for example:
//
//	go test ./fuzz/ -run=XXX -fuzz=FuzzParseAddr -fuzztime=30s
//
// Plain "go test ./fuzz/" runs every target over its seed corpus only.
package fuzz
