// increment: the seed's Python `increment` handler, ported to Go.
//
//	logger = logging.getLogger()
//	logger.setLevel(logging.INFO)
//
//	def lambda_handler(event, context):
//	    result = None
//	    action = event.get('action')
//	    if action == 'increment':
//	        result = event.get('number', 0) + 1
//	        logger.info('Calculated result of %s', result)
//	    else:
//	        logger.error("%s is not a valid action.", action)
//	    return {'result': result}
//
// {"action":"increment","number":3} gives {"result":4} and the INFO record
// "Calculated result of 4"; any other action gives {"result":null} and the
// ERROR record "<action> is not a valid action." (None when there is no
// action). Integers stay integers (of any size, as Python's), floats stay
// floats; adding 1 to a non-number is Python's TypeError.
//
// Build and run (from the repository root):
//
//	make guests-go
//	lambda-wasm invoke increment.handler --task-root target/wasm32-wasip1/guest-go --event guests/events/increment.json
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"lambdawasm"
)

// logger is the module-level logger at INFO, as logger.setLevel(logging.INFO).
var logger = lambdawasm.Logger{MinLevel: lambdawasm.LevelInfo}

// Response is {"result": ...}: the incremented number, or null.
type Response struct {
	Result *json.Number `json:"result"`
}

func init() { lambdawasm.Start(handle) }

// handle increments `number` (default 0) when `action` is "increment".
func handle(_ *lambdawasm.Context, event json.RawMessage) (Response, error) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(event, &fields) != nil || fields == nil {
		return Response{}, pythonError("AttributeError", "'%s' object has no attribute 'get'", pythonType(event))
	}
	action := valueOr(fields, "action", "null")
	var isIncrement bool
	var name string
	if json.Unmarshal(action, &name) == nil && name == "increment" {
		isIncrement = true
	}
	if !isIncrement {
		logger.Errorf("%s is not a valid action.", pythonStr(action))
		return Response{}, nil
	}
	sum, err := addOne(valueOr(fields, "number", "0"))
	if err != nil {
		return Response{}, err
	}
	logger.Infof("Calculated result of %s", sum)
	return Response{Result: &sum}, nil
}

// valueOr is Python's dict.get(key, default) on the event's fields.
func valueOr(fields map[string]json.RawMessage, key, fallback string) json.RawMessage {
	if value, ok := fields[key]; ok {
		return value
	}
	return json.RawMessage(fallback)
}

// pythonError is an exception of a Python type, reported as Python would.
func pythonError(errorType, format string, args ...any) error {
	return &lambdawasm.FunctionError{Type: errorType, Message: fmt.Sprintf(format, args...)}
}

// addOne is Python's value + 1: ints stay ints (bools count as ints), floats
// stay floats, anything else is a TypeError with Python's wording.
func addOne(value json.RawMessage) (json.Number, error) {
	switch pythonType(value) {
	case "int":
		n, _ := new(big.Int).SetString(string(value), 10)
		return json.Number(n.Add(n, big.NewInt(1)).String()), nil
	case "float":
		f, err := strconv.ParseFloat(string(value), 64)
		if err != nil || math.IsInf(f+1, 0) {
			return "", pythonError("TypeError", "cannot add 1 to %s", value)
		}
		return json.Number(pythonFloat(f + 1)), nil
	case "bool":
		if string(value) == "true" {
			return "2", nil
		}
		return "1", nil
	case "str":
		return "", pythonError("TypeError", `can only concatenate str (not "int") to str`)
	case "list":
		return "", pythonError("TypeError", `can only concatenate list (not "int") to list`)
	}
	return "", pythonError("TypeError", "unsupported operand type(s) for +: '%s' and 'int'", pythonType(value))
}

// pythonFloat is Python's repr() of a float: the shortest text that reads
// back, with ".0" on integral values and an exponent past 1e16.
func pythonFloat(f float64) string {
	if abs := math.Abs(f); abs != 0 && (abs < 1e-4 || abs >= 1e16) {
		return strconv.FormatFloat(f, 'e', -1, 64)
	}
	text := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(text, ".") {
		text += ".0"
	}
	return text
}

// pythonType is the Python type name of a JSON value.
func pythonType(value json.RawMessage) string {
	value = bytes.TrimSpace(value)
	if len(value) == 0 {
		return "NoneType"
	}
	switch value[0] {
	case 'n':
		return "NoneType"
	case 't', 'f':
		return "bool"
	case '"':
		return "str"
	case '[':
		return "list"
	case '{':
		return "dict"
	}
	if bytes.ContainsAny(value, ".eE") {
		return "float"
	}
	return "int"
}

// pythonStr is Python's str() of a JSON value, for %s.
func pythonStr(value json.RawMessage) string {
	var s string
	if json.Unmarshal(value, &s) == nil {
		return s
	}
	return pythonRepr(value)
}

// pythonRepr is Python's repr() of a JSON value (keys in their order in the
// event, as a dict keeps them).
func pythonRepr(value json.RawMessage) string {
	decoder := json.NewDecoder(bytes.NewReader(value))
	decoder.UseNumber()
	var out strings.Builder
	writeRepr(&out, decoder)
	return out.String()
}

// writeRepr writes the repr of the next value the decoder yields.
func writeRepr(out *strings.Builder, decoder *json.Decoder) {
	token, err := decoder.Token()
	if err != nil {
		return
	}
	switch token := token.(type) {
	case nil:
		out.WriteString("None")
	case bool:
		out.WriteString(map[bool]string{true: "True", false: "False"}[token])
	case json.Number:
		if f, err := token.Float64(); err == nil && pythonType(json.RawMessage(token)) == "float" {
			out.WriteString(pythonFloat(f))
		} else {
			out.WriteString(string(token))
		}
	case string:
		out.WriteString("'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(token) + "'")
	case json.Delim:
		open, close := string(token), map[json.Delim]string{'[': "]", '{': "}"}[token]
		out.WriteString(open)
		for i := 0; decoder.More(); i++ {
			if i > 0 {
				out.WriteString(", ")
			}
			writeRepr(out, decoder)
			if token == '{' {
				out.WriteString(": ")
				writeRepr(out, decoder)
			}
		}
		decoder.Token() // the closing delimiter
		out.WriteString(close)
	}
}

func main() {}
