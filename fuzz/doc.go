// Package fuzz holds the fuzz targets for every decoder in weft; CI runs each
// briefly (see .ci/run).
//
// Run one target at a time, for example:
//
//	go test ./fuzz/ -run=XXX -fuzz=FuzzParseAddr -fuzztime=30s
//
// Plain "go test ./fuzz/" runs every target over its seed corpus only.
//
// CI gives each target 10 seconds on two cores, so a target keeps each call
// cheap and its inputs short:
//   - Expensive state that does not depend on the input (keys, temporary
//     directories) is built once, before f.Fuzz; calls of the fuzz function
//     within one process are sequential, so they may share it.
//   - Inputs are short. Go minimizes every input that finds new coverage by
//     trying to drop each byte and each run of bytes, quadratic in its
//     length, and reports none of those calls until it is done; a target
//     fed 1200-byte datagrams spent whole CI runs minimizing one of them.
//     Where a decoder's behaviour depends only on a few bytes of a long
//     input (FuzzUDPDatagram), the target builds the long input from short
//     parts; where a decoder rejects inputs over a size limit before
//     reading them, the target skips inputs beyond one byte over it.
//
// .ci/run also bounds each minimization by a count of calls; with the
// plain go test command above, minimization keeps Go's default of 60 s.
package fuzz
