// The invocation context (docs/abi.md, section 4): Lambda's context object
// as Go fields, parsed from the host's `key=value` lines.
//
// Built as part of a guest: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared
// (see `make guests-go`).

package lambdawasm

import (
	"strconv"
	"strings"
	"time"
)

// Context is what Lambda tells a handler about the invocation and the
// function, as aws-lambda-go's lambdacontext.LambdaContext and Python's
// context object do. Fields the host did not send are zero.
type Context struct {
	AwsRequestID       string
	InvokedFunctionArn string
	FunctionName       string
	FunctionVersion    string
	MemoryLimitInMB    int
	LogGroupName       string
	LogStreamName      string
	// XRayTraceID is this invocation's trace header (the process environment's
	// _X_AMZN_TRACE_ID is fixed when the instance starts, so it is not it).
	XRayTraceID string
	// Deadline is when the invocation times out.
	Deadline time.Time
	// CognitoIdentity and ClientContext are compact JSON, as the host sends them.
	CognitoIdentity string
	ClientContext   string
	TenantID        string
}

// RemainingTime is the time left until the deadline (0 once it passed), as
// the host counts it.
func (*Context) RemainingTime() time.Duration {
	return time.Duration(remainingTimeMs()) * time.Millisecond
}

// parseContext reads the host's context text; unknown keys are ignored, as
// the ABI requires (later minor versions may add some).
func parseContext(text string) *Context {
	ctx := &Context{}
	for line := range strings.Lines(text) {
		key, value, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "=")
		if !ok {
			continue
		}
		switch key {
		case "aws_request_id":
			ctx.AwsRequestID = value
		case "deadline_ms":
			if ms, err := strconv.ParseInt(value, 10, 64); err == nil {
				ctx.Deadline = time.UnixMilli(ms)
			}
		case "invoked_function_arn":
			ctx.InvokedFunctionArn = value
		case "function_name":
			ctx.FunctionName = value
		case "function_version":
			ctx.FunctionVersion = value
		case "memory_limit_in_mb":
			ctx.MemoryLimitInMB, _ = strconv.Atoi(value)
		case "log_group_name":
			ctx.LogGroupName = value
		case "log_stream_name":
			ctx.LogStreamName = value
		case "xray_trace_id":
			ctx.XRayTraceID = value
		case "cognito_identity":
			ctx.CognitoIdentity = value
		case "client_context":
			ctx.ClientContext = value
		case "tenant_id":
			ctx.TenantID = value
		}
	}
	return ctx
}
