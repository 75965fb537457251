# faults: one handler per failure mode the host must contain, for the
# end-to-end tests (tests/e2e/languages.rs). The event {"fail": MODE}:
#
#   error         raises CustomError("the event asked for an error")
#   oom           allocates 1 MiB strings until the interpreter runs out of memory
#   timeout       spins forever
#   oversize      a 7 MiB string (over Lambda's 6 MB response limit)
#   invalid_json  Float::NAN, which to_json cannot encode
#
# Ruby has no way to trap: `abort` raises SystemExit and a stack overflow
# SystemStackError. Any other event is answered with itself, so a test can
# show the next event succeeds.

class CustomError < StandardError; end

MIB = 1024 * 1024

def lambda_handler(event:, context:)
  case event.is_a?(Hash) && event['fail']
  when 'error'
    raise CustomError, 'the event asked for an error'
  when 'oom'
    held = []
    loop { held << ('x' * MIB) }
  when 'timeout'
    loop {}
  when 'oversize'
    'a' * (7 * MIB)
  when 'invalid_json'
    Float::NAN
  else
    event
  end
end
