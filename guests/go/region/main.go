// region: the seed's Python `region` handler, ported to Go.
//
//	def lambda_handler(event, context):
//	    json_region = os.environ['AWS_REGION']
//	    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
//	            "body": json.dumps({"Region ": json_region})}
//
// The body is byte-identical to Python's json.dumps: {"Region ": "us-east-1"}
// (the key's trailing space, the ": " separator, non-ASCII escaped as
// \uXXXX). Without AWS_REGION the function error is Python's: errorType
// KeyError, errorMessage 'AWS_REGION'.
//
// Build and run (from the repository root):
//
//	make guests-go
//	lambda-wasm invoke region.handler --task-root target/wasm32-wasip1/guest-go --event guests/events/region.json
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"unicode/utf16"

	"lambdawasm"
)

// ProxyResponse is an API Gateway proxy response, the shape Python returns.
type ProxyResponse struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

// KeyError is Python's KeyError for a missing environment variable.
type KeyError struct{ Key string }

func (e *KeyError) Error() string { return fmt.Sprintf("'%s'", e.Key) }

func init() { lambdawasm.Start(handle) }

// handle reports the region the function runs in; the event is ignored.
func handle(_ *lambdawasm.Context, _ json.RawMessage) (ProxyResponse, error) {
	region, ok := os.LookupEnv("AWS_REGION")
	if !ok {
		return ProxyResponse{}, &KeyError{"AWS_REGION"}
	}
	return ProxyResponse{
		StatusCode: 200,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       fmt.Sprintf("{%s: %s}", pythonJSONString("Region "), pythonJSONString(region)),
	}, nil
}

// pythonJSONString is a JSON string literal exactly as Python's json.dumps
// writes it with ensure_ascii=True: everything outside printable ASCII
// escaped, \uXXXX in lowercase hex, surrogate pairs above U+FFFF.
func pythonJSONString(s string) string {
	var out strings.Builder
	out.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			out.WriteString(`\"`)
		case r == '\\':
			out.WriteString(`\\`)
		case r == '\n':
			out.WriteString(`\n`)
		case r == '\r':
			out.WriteString(`\r`)
		case r == '\t':
			out.WriteString(`\t`)
		case r == '\b':
			out.WriteString(`\b`)
		case r == '\f':
			out.WriteString(`\f`)
		case r >= ' ' && r <= '~':
			out.WriteRune(r)
		case r > 0xFFFF:
			high, low := utf16.EncodeRune(r)
			fmt.Fprintf(&out, `\u%04x\u%04x`, high, low)
		default:
			fmt.Fprintf(&out, `\u%04x`, r)
		}
	}
	out.WriteByte('"')
	return out.String()
}

func main() {}
