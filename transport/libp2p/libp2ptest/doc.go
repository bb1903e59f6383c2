// Package libp2ptest runs weft's libp2p transport in tests: loopback
// go-libp2p hosts that reach nothing outside the machine (NewHost), and a
// Net of such hosts, one dialing and several listening, whose Transport
// the conformance suites run over:
//
//	n, err := libp2ptest.New(libp2ptest.Config{})
//	if err != nil {
//		t.Fatal(err)
//	}
//	t.Cleanup(func() { _ = n.Close() })
//	transporttest.Run(t, func(t *testing.T) transporttest.Case {
//		return transporttest.Case{Transport: n.Transport(), ListenAddr: n.ListenAddr, ...}
//	})
//
// A libp2p host cannot dial itself and has one handler per protocol, so a
// suite's dialers and its listeners must be different hosts: Net.Transport
// dials from host 0 and puts each listener on a listening host with none
// open. New connects host 0 to all the others before it returns, so a
// test's goroutine leak check, taken after New, sees no libp2p connection
// start or end.
package libp2ptest
