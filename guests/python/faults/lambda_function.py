"""faults: one handler per failure mode the host must contain, for the
end-to-end tests (tests/e2e/languages.rs). The event {"fail": MODE}:

  error         raises CustomError("the event asked for an error")
  trap          os.abort(): the interpreter's abort(), a Wasm trap
  oom           allocates 1 MiB buffers until the interpreter runs out of memory
  timeout       spins forever
  oversize      a 7 MiB string (over Lambda's 6 MB response limit)
  invalid_json  a set, which json.dumps cannot encode

Any other event is answered with itself, so a test can show the next event
succeeds.
"""
import os

MIB = 1024 * 1024


class CustomError(Exception):
    pass


def lambda_handler(event, context):
    mode = event.get('fail') if isinstance(event, dict) else None
    if mode == 'error':
        raise CustomError('the event asked for an error')
    if mode == 'trap':
        os.abort()
    if mode == 'oom':
        # A local list: the MemoryError frees it, and the next event has room.
        held = []
        while True:
            held.append(bytearray(b'\x01' * MIB))
    if mode == 'timeout':
        while True:
            pass
    if mode == 'oversize':
        return 'a' * (7 * MIB)
    if mode == 'invalid_json':
        return {'not', 'json'}
    return event
