// The floor for "copy cached bytes to a socket": a bare Boost.Beast server doing only the
// essential work of narwhal's request path — read and parse the request head with Beast's
// parser, pick one of three pre-serialised responses (200, 200 gzip, 304) by two header
// lookups, write it with one gathered write, keep the connection alive. No routing, no
// negotiation, no cache lookup, no Date formatting. tests/bench/http_vs_nginx.sh runs it on the
// same core as narwhal and nginx.
//
// Usage: bare_server PORT BODY_FILE GZIP_FILE ETAG
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>
#include <span>
#include <string>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

struct Responses {
  std::string ok_head, ok_body, gzip_head, gzip_body, not_modified, etag;
};

std::string slurp(const char* path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string head(int status, const std::string& etag, std::size_t length, bool gzip) {
  std::string h = status == 200 ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.1 304 Not Modified\r\n";
  h += "Content-Type: application/ld+json\r\nCache-Control: no-cache\r\nVary: Accept, "
       "Accept-Encoding\r\nETag: ";
  h += gzip ? "W/" + etag : etag;
  h += "\r\n";
  if (gzip) h += "Content-Encoding: gzip\r\n";
  if (status == 200) h += "Content-Length: " + std::to_string(length) + "\r\n";
  h += "\r\n";
  return h;
}

asio::awaitable<void> session(tcp::socket socket, const Responses& r) {
  beast::flat_buffer buffer;
  for (;;) {
    std::optional<bhttp::request_parser<bhttp::empty_body>> parser;
    parser.emplace();
    auto [ec, n] = co_await bhttp::async_read_header(socket, buffer, *parser,
                                                     asio::as_tuple(asio::use_awaitable));
    (void)n;
    if (ec) co_return;
    const auto& req = parser->get();
    const auto inm = req.find(bhttp::field::if_none_match);
    std::array<asio::const_buffer, 2> out;
    std::size_t count = 2;
    if (inm != req.end() && inm->value() == r.etag) {
      out[0] = asio::buffer(r.not_modified);
      count = 1;
    } else if (const auto ae = req.find(bhttp::field::accept_encoding);
               ae != req.end() && ae->value().find("gzip") != beast::string_view::npos) {
      out = {asio::buffer(r.gzip_head), asio::buffer(r.gzip_body)};
    } else {
      out = {asio::buffer(r.ok_head), asio::buffer(r.ok_body)};
    }
    auto [wec, wn] = co_await asio::async_write(socket, std::span(out.data(), count),
                                                asio::as_tuple(asio::use_awaitable));
    (void)wn;
    if (wec || !req.keep_alive()) co_return;
  }
}

asio::awaitable<void> accept(tcp::acceptor& acceptor, const Responses& r) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) continue;
    socket.set_option(tcp::no_delay(true));
    asio::co_spawn(acceptor.get_executor(), session(std::move(socket), r), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: bare_server PORT BODY_FILE GZIP_FILE ETAG\n");
    return 2;
  }
  Responses r;
  r.etag = argv[4];
  r.ok_body = slurp(argv[2]);
  r.gzip_body = slurp(argv[3]);
  r.ok_head = head(200, r.etag, r.ok_body.size(), false);
  r.gzip_head = head(200, r.etag, r.gzip_body.size(), true);
  r.not_modified = head(304, r.etag, 0, false);
  asio::io_context ioc(1);
  tcp::acceptor acceptor(
      ioc, {asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(std::stoi(argv[1]))});
  asio::co_spawn(ioc, accept(acceptor, r), asio::detached);
  ioc.run();
  return 0;
}
