# Outbound HTTP(S) for Ruby handlers: Net::HTTP, and what is built on it
# (open-uri, aws-sdk-ruby's Seahorse handler, Faraday's default adapter),
# without sockets. The host appends this file to runtime.rb
# (host/src/guest/ruby/vm.rs).
#
# The guest has no sockets and no TLS: the host makes every request (an `H`
# frame in the ABI's wire format, docs/abi.md section 12) under the
# deployer's allow-list, speaks TLS itself and signs AWS requests with
# credentials the guest never holds. Ruby code cannot call a Wasm import of
# its own, but the interpreter's C code can: the frame travels as the code
# of `JS.eval` (the js extension's `eval-js` import), which the host answers
# for code starting with MARKER (host/src/guest/ruby/interop.rs; any other
# JavaScript traps, as there is none); the value's `to_s` is the host's
# reply, a status digit then the response or the error message.
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

# ruby.wasm's openssl has no SSL module (no OpenSSL inside): Net::HTTP with
# use_ssl, and HTTP clients that set a verify mode, still name these. The
# host verifies certificates itself (rustls, webpki roots).
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
  # A request the host refused or could not make, with the host's message
  # (a denial names the host and LAMBDA_WASM_ALLOWED_HOSTS). A SocketError,
  # as Net::HTTP's own connection failures are, so that code rescuing
  # network errors (open-uri's callers, aws-sdk's Seahorse, Faraday) sees
  # one.
  class OutboundError < SocketError; end

  module Outbound
    MARKER = 'lambda-wasm:H'

    class << self
      # The host's response to `frame` (binary): its bytes.
      def exchange(frame)
        require 'js.so'
        reply = JS.eval(MARKER + frame).to_s.b
        return reply.byteslice(1..) if reply.start_with?('0')

        raise OutboundError, reply.byteslice(1..).force_encoding(Encoding::UTF_8)
      end

      # The `scheme://host:port` of `http`'s connection.
      def origin(http)
        scheme = http.use_ssl? ? 'https' : 'http'
        host = http.address.include?(':') ? "[#{http.address}]" : http.address
        "#{scheme}://#{host}:#{http.port}"
      end

      # The head and body of `request` (sent by `http`) as the H frame. The
      # host sends the body with the request, so no `Expect` is passed on.
      def frame(http, request)
        body = request.body || request.body_stream&.read || ''
        request.send(:supply_default_content_type) unless body.empty?
        path = request.path.empty? ? '/' : request.path
        head = +"#{request.method} #{origin(http)}#{path}\n"
        request.each_capitalized do |name, value|
          head << "#{name}: #{value}\n" unless name.casecmp?('expect')
        end
        head.b << "\n".b << body.b
      end

      # The host's response as the bytes of an HTTP/1.1 response with its
      # body's length (the host has already undone any chunked transfer; it
      # passes no reason phrase).
      def http_response(response)
        head, body = response.split("\n\n".b, 2)
        status, *headers = head.split("\n".b)
        body ||= ''.b
        raw = "HTTP/1.1 #{status} \r\n".b
        headers.each do |line|
          raw << line << "\r\n".b unless line.match?(/\A(?:content-length|transfer-encoding):/i)
        end
        raw << "Content-Length: #{body.bytesize}\r\n\r\n".b << body
      end
    end
  end

  # What Net::HTTP does with a socket, done by the host.
  module NetHTTPThroughHost
    private

    def connect
      Outbound.exchange("CONNECT #{Outbound.origin(self)}\n\n")
    end

    def transport_request(req)
      req.update_uri(address, port, use_ssl?)
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
