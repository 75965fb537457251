# Outbound HTTP(S) for Ruby handlers: Net::HTTP (and what is built on it,
# aws-sdk-ruby's Seahorse handler) without sockets. The host appends this
# file to runtime.rb (host/src/guest/ruby/vm.rs).
#
# The guest has no sockets and no TLS: the host makes every request (an `H`
# frame in the ABI's wire format, docs/abi.md "Outbound HTTP") under the
# deployer's allow-list, speaks TLS itself and signs AWS requests with
# credentials the guest never holds. Ruby code cannot call a Wasm import of
# its own, but the interpreter's C code can: the frame travels as the code
# of `JS.eval` (the `js` extension's `eval-js` import), which the host
# answers for code starting with MARKER (and traps on for anything else, as
# there is no JavaScript); the value's `to_s` is the host's answer, a status
# digit then the response or the error message.
#
# Net::HTTP keeps its own request and response code: `connect` only asks the
# host whether the host and port may be reached (a `CONNECT` request: the
# policy check, no connection), so a denial is raised where Net::HTTP raises
# connection errors, and `transport_request` sends the request as one frame
# and hands Net::HTTP the response to parse as if read from a socket.

# ruby.wasm has neither the socket nor the io/wait extension (WASI preview 1
# has no sockets), and net/protocol requires both: they count as loaded,
# with what Net::HTTP names outside the `connect` and the socket reads that
# NetHTTPThroughHost replaces.
%w[socket io/wait].each do |feature|
  require feature
rescue LoadError
  $LOADED_FEATURES << "#{feature}.rb"
end
class SocketError < StandardError; end unless defined?(SocketError)
require 'net/http'

# ruby.wasm's openssl has no SSL module (no OpenSSL inside): Net::HTTP.start
# with use_ssl, and HTTP clients that set a verify mode, still name these.
# The host verifies certificates itself (rustls, webpki roots).
begin
  require 'openssl'
rescue LoadError
  nil
end
unless defined?(OpenSSL::SSL)
  module OpenSSL
    module SSL
      VERIFY_NONE = 0
      VERIFY_PEER = 1
      class SSLError < StandardError; end
    end
  end
end

module LambdaWasm
  # A request the host refused or could not make: the host's message names
  # the host and what to do (LAMBDA_WASM_ALLOWED_HOSTS for a denial). A
  # SocketError, as Net::HTTP's own connection failures are.
  class OutboundError < SocketError; end

  module Outbound
    MARKER = 'lambda-wasm:H'

    # The host's answer to `frame` (binary); the response bytes.
    def self.exchange(frame)
      require 'js.so'
      reply = JS.eval(MARKER + frame).to_s.b
      return reply.byteslice(1..) if reply.start_with?('0')
      raise OutboundError, reply.byteslice(1..).force_encoding(Encoding::UTF_8)
    end

    # The head and body of `request` (sent to `http`) as the H frame.
    def self.frame(http, request)
      scheme = http.use_ssl? ? 'https' : 'http'
      host = http.address.include?(':') ? "[#{http.address}]" : http.address
      path = request.path.empty? ? '/' : request.path
      head = +"#{request.method} #{scheme}://#{host}:#{http.port}#{path}\n"
      request.each_capitalized { |name, value| head << "#{name}: #{value}\n" }
      body = request.body || request.body_stream&.read || ''
      head.b + "\n".b + body.b
    end

    # The host's response as the bytes of an HTTP/1.1 response, with its
    # body's length (the host has already undone any chunked transfer).
    def self.http_response(response)
      head, body = response.split("\n\n", 2)
      status, *headers = head.split("\n")
      body ||= ''.b
      raw = +"HTTP/1.1 #{status}\r\n".b
      headers.each do |line|
        next if line =~ /\A(content-length|transfer-encoding):/i
        raw << line.b << "\r\n".b
      end
      raw << "Content-Length: #{body.bytesize}\r\n\r\n".b << body
    end
  end

  # What Net::HTTP does with a socket, done by the host.
  module NetHTTPThroughHost
    private

    def connect
      scheme = use_ssl? ? 'https' : 'http'
      host = address.include?(':') ? "[#{address}]" : address
      Outbound.exchange("CONNECT #{scheme}://#{host}:#{port}\n\n")
    end

    def transport_request(req)
      raw = Outbound.http_response(Outbound.exchange(Outbound.frame(self, req)))
      socket = Net::BufferedIO.new(StringIO.new(raw))
      res = Net::HTTPResponse.read_new(socket)
      res.decode_content = req.decode_content
      res.body_encoding = @response_body_encoding
      res.uri = req.uri
      res.reading_body(socket, req.response_body_permitted?) { yield res if block_given? }
      res
    end

    def do_finish
      @started = false
      @socket = nil
    end
  end
end

Net::HTTP.prepend(LambdaWasm::NetHTTPThroughHost)
