package hubbench_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/weftnet/weft/hub/hubbench"
)

func TestMain(m *testing.M) {
	hubbench.ServeRemoteIfAsked() // the remote member of StartSplit's benchmarks
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"),
	)
}
