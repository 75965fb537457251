# A minimal Lambda Runtime API loop in Ruby, for the benchmark's native Ruby
# row (bench/src/main.rs): requires the handler's file from the task root
# and answers events one at a time, as aws_lambda_ric's loop does without
# its logging and error classification. Usage: ruby runtime.rb FILE.METHOD
require 'json'
require 'net/http'

file, method = ARGV.fetch(0).split('.', 2)
task_root = ENV.fetch('LAMBDA_TASK_ROOT', Dir.pwd)
$LOAD_PATH.unshift(task_root)
require file

host, port = ENV.fetch('AWS_LAMBDA_RUNTIME_API').split(':')
api = Net::HTTP.new(host, port.to_i)
api.read_timeout = nil
api.start
base = '/2018-06-01/runtime/invocation'
loop do
  invocation = api.get("#{base}/next")
  request_id = invocation['Lambda-Runtime-Aws-Request-Id']
  begin
    result = __send__(method, event: JSON.parse(invocation.body), context: nil)
    api.post("#{base}/#{request_id}/response", result.to_json)
  rescue StandardError => e
    body = { errorMessage: e.message, errorType: e.class.name, stackTrace: e.backtrace }
    api.post("#{base}/#{request_id}/error", body.to_json)
  end
end
