// httpGet over Boost.Beast.
#include "sluicectl/http_get.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace sluice::sluicectl {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

Result<HttpGetResult> httpGet(const std::string& address, const std::string& target,
                              std::chrono::milliseconds timeout) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos)
    return makeError("controller address " + address + " is not HOST:PORT");
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  beast::error_code error;
  tcp::resolver resolver(io);
  const auto endpoints =
      resolver.resolve(address.substr(0, colon), address.substr(colon + 1), error);
  if (error) return makeError("cannot resolve " + address + ": " + error.message());
  const auto fail = [&](const std::string& what) {
    return makeError("sluice-controller at " + address + ": " + what + ": " + error.message() +
                     "; is the controller running (pass --controller HOST:PORT otherwise)?");
  };
  stream.expires_after(timeout);
  stream.async_connect(endpoints,
                       [&](beast::error_code result, const tcp::endpoint&) { error = result; });
  io.run();
  if (error) return fail("connect");
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, address);
  request.set(http::field::user_agent, "sluicectl");
  http::response<http::string_body> response;
  beast::flat_buffer buffer;
  io.restart();
  stream.expires_after(timeout);
  http::async_write(stream, request, [&](beast::error_code result, std::size_t) {
    error = result;
    if (error) return;
    http::async_read(stream, buffer, response,
                     [&](beast::error_code readResult, std::size_t) { error = readResult; });
  });
  io.run();
  if (error) return fail("GET " + target);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return HttpGetResult{static_cast<int>(response.result_int()), response.body()};
}

}  // namespace sluice::sluicectl
