// hello: the seed's Python `hello` handler, ported to Go.
//
//	def lambda_handler(event, context):
//	    message = 'Hello {} {}!'.format(event['first_name'], event['last_name'])
//	    return {'message': message}
//
// {"first_name":"John","last_name":"Smith"} gives {"message":"Hello John Smith!"};
// a missing key gives the function error Python would raise: errorType
// KeyError, errorMessage 'first_name' (as the Rust port does).
//
// Build and run (from the repository root):
//
//	make guests-go
//	lambda-wasm invoke hello.handler --task-root target/wasm32-wasip1/guest-go --event guests/events/hello.json
package main

import (
	"encoding/json"
	"fmt"

	"lambdawasm"
)

// Greeting is the response, {"message": ...}.
type Greeting struct {
	Message string `json:"message"`
}

// KeyError is Python's KeyError: the event has no such key. Its message is
// the key quoted, as str(KeyError('first_name')) is 'first_name'.
type KeyError struct{ Key string }

func (e *KeyError) Error() string { return fmt.Sprintf("'%s'", e.Key) }

func init() { lambdawasm.Start(handle) }

// handle greets the person named in the event. The event is any JSON (not a
// struct) so that a missing key is a KeyError rather than a decoding error.
func handle(_ *lambdawasm.Context, event json.RawMessage) (Greeting, error) {
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(event, &fields) // not an object: every key is missing
	field := func(key string) (string, error) {
		value, ok := fields[key]
		if !ok {
			return "", &KeyError{key}
		}
		return pythonStr(value), nil
	}
	firstName, err := field("first_name")
	if err != nil {
		return Greeting{}, err
	}
	lastName, err := field("last_name")
	if err != nil {
		return Greeting{}, err
	}
	return Greeting{Message: fmt.Sprintf("Hello %s %s!", firstName, lastName)}, nil
}

// pythonStr is Python's str() of a JSON value, for '{}'.format(value):
// strings as they are, null/true/false as None/True/False, the rest as JSON.
func pythonStr(value json.RawMessage) string {
	var s string
	if json.Unmarshal(value, &s) == nil {
		return s
	}
	switch string(value) {
	case "null":
		return "None"
	case "true":
		return "True"
	case "false":
		return "False"
	}
	return string(value)
}

func main() {}
