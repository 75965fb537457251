# lambda-wasm's Ruby runtime. The host evaluates this file once per execution
# environment in Ruby 3.4 for WASI (host/src/guest/ruby/vm.rs), then calls
# LambdaWasm.start, which loads the handler, and LambdaWasm.invoke for each
# event. Each returns a frame of the interpreter protocol
# (host/src/guest/interpreter/mod.rs):
#
#   N                  init is done
#   I + error JSON     init failed; the environment ends
#   R + JSON           the invocation's response
#   E + error JSON     the invocation's error
#   X + error JSON     the invocation's error, after which the runtime exits
#   V + JSON           the variables the handler's require read, while a
#                      handler snapshot is taken (LambdaWasm.report_reads)
#
# An invocation frame is 8 NUL-separated fields: request id, deadline (epoch
# ms), invoked function ARN, trace id, client context JSON, Cognito identity
# JSON, tenant id, event JSON (absent values are empty).
#
# It behaves like AWS's Ruby runtime interface client, aws_lambda_ric
# (lib/aws_lambda_ric.rb and its lambda_*.rb files): the same handler
# resolution (FILE.METHOD, FILE.CLASS.METHOD), the same LambdaContext, the
# same error classification and bodies (Function<...>, Init<...>), the same
# error log lines, and Logger patched to its LogFormatter. Its log sink is
# a telemetry pipe on Lambda; here, as the client does without one, it is
# $stdout, which the host logs line by line.

require 'json'
require 'logger'
require 'stringio'
require 'time'

$stdout.sync = true

module LambdaErrors
  class LambdaErrors::InvocationError < StandardError; end

  class LambdaError < StandardError
    def initialize(original_error, classification = 'Function')
      @error_class = original_error.class.to_s
      @error_type = "#{classification}<#{original_error.class}>"
      @error_message = original_error.message
      @stack_trace = _sanitize_stacktrace(original_error.backtrace_locations)
      super(original_error)
    end

    def to_lambda_response
      {
        :errorMessage => @error_message,
        :errorType => @error_type,
        :stackTrace => @stack_trace
      }
    end

    private

    # The user's frames up to the first of the runtime's (under /var/runtime/lib).
    def _sanitize_stacktrace(stacktrace)
      ret = []
      (stacktrace || []).first(100).each do |line|
        break if line.to_s.match(%r{^/var/runtime/lib})
        ret << line
      end
      ret
    end
  end

  class LambdaHandlerError < LambdaError; end

  class LambdaHandlerCriticalException < LambdaError; end

  class LambdaRuntimeError < LambdaError
    def initialize(original_error)
      super(original_error, 'Runtime')
    end
  end

  class LambdaRuntimeInitError < LambdaError
    def initialize(original_error)
      super(original_error, 'Init')
    end
  end
end

module AwsLambda
  class Marshaller
    class << self
      # The event JSON, parsed (the Runtime API's content type is always JSON).
      def marshall_request(raw_request)
        JSON.parse(raw_request.body)
      end

      # The response's JSON; a StringIO or IO is sent as its contents.
      def marshall_response(method_response)
        case method_response
        when StringIO, IO
          [method_response, 'application/unknown']
        else
          method_response.to_json
        end
      end
    end
  end
end

class LambdaContext
  attr_reader :aws_request_id, :invoked_function_arn, :log_group_name,
              :log_stream_name, :function_name, :memory_limit_in_mb, :function_version,
              :identity, :tenant_id, :client_context, :deadline_ms

  def initialize(request)
    @clock_diff = Process.clock_gettime(Process::CLOCK_REALTIME, :millisecond) - Process.clock_gettime(Process::CLOCK_MONOTONIC, :millisecond)
    @deadline_ms = request['Lambda-Runtime-Deadline-Ms'].to_i
    @aws_request_id = request['Lambda-Runtime-Aws-Request-Id']
    @invoked_function_arn = request['Lambda-Runtime-Invoked-Function-Arn']
    @log_group_name = ENV['AWS_LAMBDA_LOG_GROUP_NAME']
    @log_stream_name = ENV['AWS_LAMBDA_LOG_STREAM_NAME']
    @function_name = ENV['AWS_LAMBDA_FUNCTION_NAME']
    @memory_limit_in_mb = ENV['AWS_LAMBDA_FUNCTION_MEMORY_SIZE']
    @function_version = ENV['AWS_LAMBDA_FUNCTION_VERSION']
    @identity = JSON.parse(request['Lambda-Runtime-Cognito-Identity']) unless request['Lambda-Runtime-Cognito-Identity'].to_s.empty?
    @tenant_id = request['Lambda-Runtime-Aws-Tenant-Id'] unless request['Lambda-Runtime-Aws-Tenant-Id'].to_s.empty?
    @client_context = JSON.parse(request['Lambda-Runtime-Client-Context']) unless request['Lambda-Runtime-Client-Context'].to_s.empty?
  end

  def get_remaining_time_in_millis
    now = Process.clock_gettime(Process::CLOCK_MONOTONIC, :millisecond) + @clock_diff
    remaining = @deadline_ms - now
    remaining.positive? ? remaining : 0
  end
end

class LambdaHandler
  attr_reader :handler_file_name, :handler_method_name

  def initialize(env_handler:)
    handler_split = env_handler.split('.')
    if handler_split.size == 2
      @handler_file_name, @handler_method_name = handler_split
    elsif handler_split.size == 3
      @handler_file_name, @handler_class, @handler_method_name = handler_split
    else
      raise ArgumentError.new("Invalid handler #{handler_split}, must be of form FILENAME.METHOD or FILENAME.CLASS.METHOD where FILENAME corresponds with an existing Ruby source file FILENAME.rb, CLASS is an optional module/class namespace and METHOD is a callable method. If using CLASS, METHOD must be a class-level method.")
    end
  end

  def call_handler(request:, context:)
    opts = {
      event: request,
      context: context
    }
    if @handler_class
      response = Kernel.const_get(@handler_class).send(@handler_method_name, **opts)
    else
      response = __send__(@handler_method_name, **opts)
    end
    AwsLambda::Marshaller.marshall_response(response)
  rescue NoMethodError => e
    raise LambdaErrors::LambdaHandlerCriticalException.new(e)
  rescue NameError => e
    raise LambdaErrors::LambdaHandlerCriticalException.new(e)
  rescue StandardError => e
    raise LambdaErrors::LambdaHandlerError.new(e)
  rescue Exception => e
    raise LambdaErrors::LambdaHandlerCriticalException.new(e)
  end
end

class LambdaLogger
  class << self
    def log_error(exception:, message: nil)
      puts message if message
      puts JSON.pretty_unparse(exception.to_lambda_response)
    end
  end
end

class LogFormatter < Logger::Formatter
  FORMAT = '%<sev>s, [%<datetime>s #%<process>d] %<severity>5s %<request_id>s -- %<progname>s: %<msg>s'

  def call(severity, time, progname, msg)
    (FORMAT % {sev: severity[0..0], datetime: format_datetime(time), process: $$, severity: severity,
               request_id: $_global_aws_request_id, progname: progname, msg: msg2str(msg)}).encode!('UTF-8')
  end
end

# The client's telemetry sink without its pipe: records go to $stdout. Each
# record is a frame of its own on Lambda (LogFormatter writes no newline),
# so here each ends a line.
class TelemetryLogSink < Logger::LogDevice
  def initialize(file: nil)
    @file = file
  end

  def write(msg)
    $stdout.write(msg.end_with?("\n") ? msg : msg + "\n")
  end

  def reopen(log = nil); end

  def close; end
end

# A Logger for $stdout, $stderr or nothing logs through the sink with
# LogFormatter, as the client patches Logger on Lambda. (Other keywords
# pass through: Ruby 3.4's Logger takes more than the client lists.)
module LoggerPatch
  SINK = TelemetryLogSink.new

  def initialize(logdev, *args, formatter: nil, **options)
    if !logdev || logdev == $stdout || logdev == $stderr
      logdev = SINK
      formatter ||= LogFormatter.new
    end
    super(logdev, *args, formatter: formatter, **options)
  end
end
Logger.prepend(LoggerPatch)

# Records which variables are read through ENV while a handler snapshot is
# taken (LambdaWasm.record_reads): prepended to ENV's singleton class, and a
# plain pass-through again once `reads` is nil.
module LambdaWasmEnvReads
  class << self
    attr_accessor :reads # names read => true, :all => true when listed whole
  end

  %i[[] fetch key? has_key? include? member? assoc values_at slice].each do |method|
    many = %i[values_at slice].include?(method)
    define_method(method) do |*args, &block|
      reads = LambdaWasmEnvReads.reads
      (many ? args : args.first(1)).each { |name| reads[name.to_s] = true } if reads
      super(*args, &block)
    end
  end

  %i[each each_pair each_key each_value keys values to_h to_hash to_a select filter reject].each do |method|
    define_method(method) do |*args, &block|
      reads = LambdaWasmEnvReads.reads
      reads[:all] = true if reads
      super(*args, &block)
    end
  end
end

module LambdaWasm
  class << self
    # Starts recording the variables read through ENV.
    def record_reads
      ENV.singleton_class.prepend(LambdaWasmEnvReads)
      LambdaWasmEnvReads.reads = {}
    end

    # Stops recording; the V frame of what was read.
    def report_reads
      reads = LambdaWasmEnvReads.reads || {}
      LambdaWasmEnvReads.reads = nil
      'V' + { 'names' => reads.keys.grep(String).sort, 'all' => reads.key?(:all) }.to_json
    end

    # Loads the handler as the client's LambdaRunner#run does; the N or I frame.
    def start
      load_handler
      'N'
    rescue Exception => e
      ex = LambdaErrors::LambdaRuntimeInitError.new(e)
      # The client's message names @env_handler, which LambdaRunner never
      # sets: AWS's log line ends in "handler " (kept as it writes it).
      LambdaLogger.log_error(exception: ex, message: "Init error when loading handler #{@env_handler}")
      'I' + ex.to_lambda_response.to_json
    end

    # Requires the handler's file, once: a VM restored from a snapshot
    # taken after this (host/src/guest/interpreter/snapshot.rs) has it.
    def load_handler
      return if @lambda_handler
      handler = ENV['_HANDLER']
      app_root = ENV['LAMBDA_TASK_ROOT'] || Dir.pwd
      Dir.chdir(app_root) rescue nil
      $LOAD_PATH.unshift(app_root) unless $LOAD_PATH.include?(app_root)
      lambda_handler = LambdaHandler.new(env_handler: handler)
      require lambda_handler.handler_file_name
      @lambda_handler = lambda_handler
    end

    # What a VM restored from a snapshot runs first: ENV becomes the
    # function's (the snapshot holds the one it was taken with) and the
    # default Random is re-seeded from the OS, so that environments
    # restored from one snapshot draw different numbers.
    def restore(environment)
      ENV.replace(environment)
      Random.srand
    end

    # Runs one invocation (the client's wait_for_invocation and
    # run_user_code); the R, E or X frame.
    def invoke(frame)
      request_id, deadline, arn, trace_id, client_context, cognito, tenant, event =
        frame.split("\0", 8).map { |field| field.force_encoding(Encoding::UTF_8) }
      $_global_aws_request_id = request_id
      ENV['_X_AMZN_TRACE_ID'] = trace_id unless trace_id.empty?
      raw_request = {
        'Lambda-Runtime-Aws-Request-Id' => request_id,
        'Lambda-Runtime-Deadline-Ms' => deadline,
        'Lambda-Runtime-Invoked-Function-Arn' => arn,
        'Lambda-Runtime-Client-Context' => client_context,
        'Lambda-Runtime-Cognito-Identity' => cognito,
        'Lambda-Runtime-Aws-Tenant-Id' => tenant
      }
      begin
        request = AwsLambda::Marshaller.marshall_request(Struct.new(:body).new(event))
      rescue Exception => e
        # The client cannot parse the event either: its runtime loop ends.
        return 'X' + LambdaErrors::LambdaRuntimeError.new(e).to_lambda_response.to_json
      end
      run_user_code(request, LambdaContext.new(raw_request))
    end

    private

    def run_user_code(request, context)
      response, _content_type = @lambda_handler.call_handler(request: request, context: context)
      response = response.read if response.respond_to?(:read)
      'R' + response.to_s
    rescue LambdaErrors::LambdaHandlerError => e
      LambdaLogger.log_error(exception: e, message: 'Error raised from handler method')
      'E' + e.to_lambda_response.to_json
    rescue LambdaErrors::LambdaHandlerCriticalException => e
      LambdaLogger.log_error(exception: e, message: 'Critical exception from handler')
      'X' + e.to_lambda_response.to_json
    rescue LambdaErrors::LambdaRuntimeError => e
      'X' + e.to_lambda_response.to_json
    end
  end
end
