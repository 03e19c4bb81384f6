#include "narwhal/http/server.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <thread>
#include <type_traits>
#include <vector>

#include "narwhal/live/hub.hpp"
#include "narwhal/util/log.hpp"
#include "narwhal/util/time.hpp"

namespace narwhal::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// Failed accepts: how often they are logged, and the longest pause before the next try.
constexpr auto kAcceptLogInterval = std::chrono::seconds(10);
constexpr auto kAcceptBackoffMax = std::chrono::milliseconds(1000);
// How long past a read's own limit the stream's timeout closes the socket regardless.
constexpr auto kTimeoutBackstop = std::chrono::seconds(2);
// A connection over the cap has this long to send its one request.
constexpr auto kOverflowHeaderTimeout = std::chrono::milliseconds(1000);

namespace {

std::string_view reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

// Why a request's framing cannot be trusted, or "" when it can. Behind a proxy, a body the proxy
// and narwhal delimit differently is a second, smuggled request (RFC 9112 §6.3, §3.2).
template <class Request>
std::string framing_error(const Request& req) {
  if (req.version() >= 11) {
    const auto hosts = req.count(bhttp::field::host);
    if (hosts != 1) {
      return "an HTTP/1.1 request carries exactly one Host header (RFC 9112 §3.2); this one has " +
             std::to_string(hosts);
    }
  }
  const auto te = req.find(bhttp::field::transfer_encoding);
  if (te == req.end()) return {};
  if (req.count(bhttp::field::transfer_encoding) > 1 ||
      req.find(bhttp::field::content_length) != req.end()) {
    return "Transfer-Encoding must come once and without Content-Length (RFC 9112 §6.3)";
  }
  // The codings, in order: chunked must be the last one and appear once.
  std::string_view codings = te->value();
  int chunked = 0;
  std::string_view last;
  while (!codings.empty()) {
    const auto comma = codings.find(',');
    std::string_view c = codings.substr(0, comma);
    codings.remove_prefix(comma == std::string_view::npos ? codings.size() : comma + 1);
    while (!c.empty() && (c.front() == ' ' || c.front() == '\t')) c.remove_prefix(1);
    while (!c.empty() && (c.back() == ' ' || c.back() == '\t')) c.remove_suffix(1);
    if (const auto semi = c.find(';'); semi != std::string_view::npos) c = c.substr(0, semi);
    if (c.empty()) continue;
    last = c;
    if (beast::iequals(c, "chunked")) ++chunked;
  }
  if (chunked != 1 || !beast::iequals(last, "chunked")) {
    return "Transfer-Encoding must end in chunked, once (RFC 9112 §6.3); got \"" +
           std::string(te->value().substr(0, 64)) + "\"";
  }
  return {};
}

// The origin-form of a target: an absolute-form one ("http://host/path?q", RFC 9112 §3.2.2)
// loses its scheme and authority.
std::string_view origin_form(std::string_view target) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.size() >= scheme.size() && beast::iequals(target.substr(0, scheme.size()), scheme)) {
      const auto slash = target.find_first_of("/?", scheme.size());
      // "http://host" and "http://host?q" name the root (a query there has no path to go with).
      if (slash == std::string_view::npos || target[slash] == '?') return "/";
      return target.substr(slash);
    }
  }
  return target;
}

// A Request-Id for requests that bring none: 16 hex digits, unique enough per process.
std::string new_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::uint64_t v = rng();
  std::string id(16, '0');
  for (int i = 15; i >= 0; --i) {
    id[static_cast<std::size_t>(i)] = kHex[v & 0xF];
    v >>= 4;
  }
  return id;
}

bool acceptable_request_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (const char c : id) {
    if (c < 0x21 || c > 0x7E) return false;
  }
  return true;
}

// The Date header, formatted at most once a second per thread.
std::string_view http_date() {
  thread_local std::int64_t cached_second = -1;
  thread_local std::string cached;
  const std::int64_t now = util::now_micros();
  if (now / 1'000'000 != cached_second) {
    cached_second = now / 1'000'000;
    cached = util::format_http_date(now);
  }
  return cached;
}

void serialize_head(std::string& out, const Reply& r, std::string_view request_id,
                    std::string_view links, bool keep_alive, bool tls) {
  out.clear();
  out += "HTTP/1.1 ";
  out += std::to_string(r.status);
  out += ' ';
  out += reason(r.status);
  out += "\r\nDate: ";
  out += http_date();
  if (!r.content_type.empty()) {
    out += "\r\nContent-Type: ";
    out += r.content_type;
  }
  // HEAD and 304 describe the body they would have had; 204 has none; a stream has no end.
  if (r.event_stream) {
    out += "\r\nTransfer-Encoding: chunked";
  } else if (r.status != 204 && r.status != 304) {
    out += "\r\nContent-Length: ";
    out += std::to_string(r.body ? r.body->size() : 0);
  }
  if (!r.etag.empty()) {
    out += "\r\nETag: ";
    out += r.etag;
  }
  if (r.last_modified != 0) {
    out += "\r\nLast-Modified: ";
    out += util::format_http_date(r.last_modified);
  }
  if (!r.cache_control.empty()) {
    out += "\r\nCache-Control: ";
    out += r.cache_control;
  }
  if (r.vary_accept || r.vary_encoding) {
    out += "\r\nVary: ";
    out += r.vary_accept && r.vary_encoding ? "Accept, Accept-Encoding"
           : r.vary_accept                  ? "Accept"
                                            : "Accept-Encoding";
  }
  if (!r.content_encoding.empty()) {
    out += "\r\nContent-Encoding: ";
    out += r.content_encoding;
  }
  if (!r.content_location.empty()) {
    out += "\r\nContent-Location: ";
    out += r.content_location;
  }
  // Allow on successful GET/HEAD answers (§7); a 405 carries its own in r.headers.
  if (r.status < 300 || r.status == 304) out += "\r\nAllow: GET, HEAD, OPTIONS";
  for (const auto& [name, value] : r.headers) {
    out += "\r\n";
    out += name;
    out += ": ";
    out += value;
  }
  // One Link field: clients that read a single header value still see every relation.
  if (r.discovery_links || !r.links.empty()) {
    out += "\r\nLink: ";
    out += r.links;
    if (r.discovery_links) {
      if (!r.links.empty()) out += ", ";
      out += links;
    }
  }
  out += "\r\nRequest-Id: ";
  out += request_id;
  out +=
      "\r\nX-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n"
      "Referrer-Policy: no-referrer\r\n"
      "Content-Security-Policy: default-src 'self'; img-src 'self' data:; style-src 'self' "
      "'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";
  if (tls) out += "\r\nStrict-Transport-Security: max-age=31536000";
  if (!keep_alive) out += "\r\nConnection: close";
  out += "\r\n\r\n";
}

}  // namespace

struct Server::Impl {
  ServerOptions options;
  const Handler& handler;
  asio::io_context ioc;  // constructed with the thread count as its concurrency hint
  tcp::acceptor acceptor{ioc};
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> open{0}, requests{0}, in_flight{0}, header_limit_hits{0}, timeouts{0},
      streams_served{0}, streams_active{0}, connection_limit_hits{0}, accept_errors{0};
  // The render pool, apart from the I/O threads (started by start()). Its threads run at a
  // lower priority (nice +5), so that on a busy machine the threads that accept, read and write
  // get the cores first and cache hits and probes stay quick.
  asio::io_context render_ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> render_work;
  std::vector<std::thread> render_threads;
  std::atomic<std::uint64_t> render_jobs{0}, render_waiting{0}, render_running{0},
      render_rejected{0};
  std::size_t max_connections = 0;  // set by start()
  // Past the cap: connections that get their one request answered; beyond these, none is
  // accepted until one closes.
  std::size_t max_overflow = 0;
  std::atomic<std::uint64_t> overflow_open{0};
  mutable std::atomic<std::uint64_t> internal_errors{0};
  std::string links;
  std::mutex done_mutex;
  std::condition_variable done_cv;
  bool done = false;
  std::uint16_t bound_port = 0;
  std::unique_ptr<asio::ssl::context> tls;  // set when serving HTTPS
  std::mutex streams_mutex;
  std::vector<std::weak_ptr<live::Stream>> streams;  // being written, to end them on stop()
  std::size_t streams_pruned_to = 0;                 // its size after the last prune

  Impl(ServerOptions o, const Handler& h)
      : options(std::move(o)), handler(h), ioc(static_cast<int>(std::max(1U, options.threads))) {}

  asio::awaitable<void> accept_loop() {
    asio::steady_timer pause(acceptor.get_executor());
    auto wait = [&](std::chrono::milliseconds d) -> asio::awaitable<void> {
      pause.expires_after(d);
      auto [ignored] = co_await pause.async_wait(kTuple);
      (void)ignored;
    };
    // Failed accepts (EMFILE: out of descriptors) are logged once per interval with a count and
    // retried after a growing pause: a spinning accept loop took a core and wrote millions of
    // lines while the process could answer nobody.
    std::chrono::milliseconds backoff{0};
    std::uint64_t unlogged = 0;
    auto last_log = std::chrono::steady_clock::time_point{};
    for (;;) {
      // Over the cap and the overflow slots too: accept nothing until a connection closes (the
      // kernel's backlog holds the rest).
      while (!stopping && open.load() >= max_connections + max_overflow) {
        co_await wait(std::chrono::milliseconds(20));
      }
      if (stopping) co_return;
      // With one thread nothing can run concurrently: a strand would only cost dispatches.
      const asio::any_io_executor ex = options.threads > 1
                                           ? asio::any_io_executor(asio::make_strand(ioc))
                                           : asio::any_io_executor(ioc.get_executor());
      auto [ec, socket] = co_await acceptor.async_accept(ex, kTuple);
      if (ec) {
        if (stopping || ec == asio::error::operation_aborted) co_return;
        accept_errors.fetch_add(1, std::memory_order_relaxed);
        ++unlogged;
        const auto now = std::chrono::steady_clock::now();
        if (now - last_log >= kAcceptLogInterval) {
          util::log::warn("accept failed; pausing accepts",
                          {{"error", ec.message()},
                           {"failures", std::to_string(unlogged)},
                           {"open_connections", std::to_string(open.load())}});
          unlogged = 0;
          last_log = now;
        }
        backoff = std::min(std::max(backoff * 2, std::chrono::milliseconds(10)), kAcceptBackoffMax);
        co_await wait(backoff);
        continue;
      }
      backoff = std::chrono::milliseconds(0);
      const bool over = open.fetch_add(1) >= max_connections;
      if (over) {
        connection_limit_hits.fetch_add(1, std::memory_order_relaxed);
        overflow_open.fetch_add(1);
      }
      auto ex_of = socket.get_executor();
      if (tls) {
        asio::co_spawn(ex_of, tls_session(beast::tcp_stream(std::move(socket)), over),
                       asio::detached);
      } else {
        asio::co_spawn(ex_of, plain_session(beast::tcp_stream(std::move(socket)), over),
                       asio::detached);
      }
    }
  }

  Reply over_cap(const Request& rq) const {
    Reply r = handler.problem("API012",
                              "narwhal serves its maximum of " + std::to_string(max_connections) +
                                  " connections; retry in a second",
                              rq.target.substr(0, rq.target.find('?')), rq.request_id);
    r.headers.emplace_back("Retry-After", "1");
    return r;
  }

  // The handler's answer. What is quick is answered here, on the I/O thread; what needs work
  // goes to the render pool, so that cache hits, probes and stream writes never wait behind a
  // render. A full pool queue is a 503 with Retry-After.
  asio::awaitable<Reply> answer(const Request& rq) {
    std::optional<Reply> quick = guarded(rq, [&] { return handler.handle_quick(rq); });
    if (quick) co_return std::move(*quick);
    if (render_waiting.fetch_add(1) >= options.render_queue) {
      render_waiting.fetch_sub(1);
      render_rejected.fetch_add(1, std::memory_order_relaxed);
      Reply r = handler.problem("API014",
                                "narwhal is busy: " + std::to_string(options.render_queue) +
                                    " requests already wait to be rendered; retry in a second",
                                rq.target.substr(0, rq.target.find('?')), rq.request_id);
      r.headers.emplace_back("Retry-After", "1");
      co_return r;
    }
    render_jobs.fetch_add(1, std::memory_order_relaxed);
    // The request's views point into this coroutine's frame, which waits here until the job is
    // done; the answer resumes it on its own executor.
    co_return co_await asio::co_spawn(
        render_ioc.get_executor(),
        [this, &rq]() -> asio::awaitable<Reply> {
          render_waiting.fetch_sub(1);
          const Held running(render_running);
          co_return guarded(rq, [&] { return std::optional<Reply>(handler.handle(rq)); }).value();
        },
        asio::use_awaitable);
  }

  // A failure inside the handler (a bug, or memory running out) is a 500 problem for this
  // request, logged, never the end of the connection's coroutine or the process.
  template <class F>
  std::optional<Reply> guarded(const Request& rq, F&& f) const {
    try {
      return f();
    } catch (const std::exception& e) {
      util::log::error("request failed", {{"requestId", rq.request_id}, {"error", e.what()}});
      internal_errors.fetch_add(1, std::memory_order_relaxed);
      return handler.problem("API008", "narwhal failed on this request; it has been logged",
                             rq.target.substr(0, rq.target.find('?')), rq.request_id);
    }
  }

  // Writes an event stream's frames as they come, one HTTP chunk per wake-up, until the client
  // goes away, a write times out or the hub closes the stream.
  template <class Stream>
  asio::awaitable<void> pump(Stream& stream, std::shared_ptr<live::Stream> events) {
    const Held active(streams_active);
    {
      const std::lock_guard lock(streams_mutex);
      // Pruned when the list has doubled since the last pass: linear in total, not per stream.
      if (streams.size() >= 2 * std::max<std::size_t>(streams_pruned_to, 32)) {
        std::erase_if(streams, [](const std::weak_ptr<live::Stream>& w) { return w.expired(); });
        streams_pruned_to = streams.size();
      }
      streams.push_back(events);
    }
    using Bell = asio::experimental::concurrent_channel<void(boost::system::error_code)>;
    auto bell = std::make_shared<Bell>(co_await asio::this_coro::executor, 1);
    events->set_waker([bell] { (void)bell->try_send(boost::system::error_code{}); });
    // A client never sends anything on a stream: a byte, an end of file or an error means it
    // has left (or misbehaves). A one-byte read rather than a readiness wait: epoll sometimes
    // reports a socket readable with nothing to read, and the read simply waits on.
    auto& socket = beast::get_lowest_layer(stream).socket();
    auto gone = std::make_shared<bool>(false);  // set on this connection's executor only
    auto sink = std::make_shared<char>();
    socket.async_read_some(asio::buffer(sink.get(), 1),
                           [events, gone, sink](boost::system::error_code ec, std::size_t) {
                             if (ec == asio::error::operation_aborted) return;
                             *gone = true;
                             events->close();
                           });
    bool failed = false;
    bool timed = false;  // a write timeout is armed
    std::vector<live::Frame> frames;
    std::vector<asio::const_buffer> buffers;
    std::array<char, 20> size_line{};
    static constexpr std::string_view kCrlf = "\r\n";
    // A plain socket is first written without blocking: when the kernel takes the whole chunk,
    // as it does for a client keeping up, no asynchronous operation or timer is needed.
    constexpr bool kPlain = std::is_same_v<Stream, beast::tcp_stream>;
    if constexpr (kPlain) {
      boost::system::error_code ignored;
      socket.non_blocking(true, ignored);
    }
    for (;;) {
      if (events->take_into(frames)) break;
      if (frames.empty()) {
        if (timed) beast::get_lowest_layer(stream).expires_never();
        timed = false;
        auto [ec] = co_await bell->async_receive(kTuple);
        if (ec) break;
        continue;
      }
      std::size_t size = 0;
      for (const auto& f : frames) size += f->size();
      auto [end, err] = std::to_chars(size_line.data(), size_line.data() + 16, size, 16);
      (void)err;
      *end++ = '\r';
      *end++ = '\n';
      buffers.clear();
      buffers.emplace_back(size_line.data(), static_cast<std::size_t>(end - size_line.data()));
      for (const auto& f : frames) buffers.emplace_back(asio::buffer(*f));
      buffers.emplace_back(asio::buffer(kCrlf));
      std::size_t left = asio::buffer_size(buffers);
      auto first = buffers.begin();
      if constexpr (kPlain) {
        boost::system::error_code ec;
        const std::size_t n = socket.write_some(buffers, ec);
        if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
          failed = true;
          break;
        }
        // Skip what the kernel took; the rest goes the asynchronous way.
        left -= n;
        for (std::size_t skip = n; skip > 0;) {
          if (skip >= first->size()) {
            skip -= first->size();
            ++first;
          } else {
            *first += skip;
            skip = 0;
          }
        }
      }
      if (left == 0) continue;
      beast::get_lowest_layer(stream).expires_after(options.stream_write_timeout);
      timed = true;
      auto [ec, n] = co_await asio::async_write(
          stream, std::span<const asio::const_buffer>(&*first, buffers.end() - first), kTuple);
      (void)n;
      if (ec) {
        failed = true;
        break;
      }
    }
    frames.clear();
    events->close();
    boost::system::error_code ignored;
    socket.cancel(ignored);
    if (!failed && !*gone) {
      // The hub or the server ends the stream: end the body properly, so the client sees a
      // finished response and reconnects (EventSource does) rather than a broken one.
      beast::get_lowest_layer(stream).expires_after(std::chrono::milliseconds(500));
      auto [ec, n] =
          co_await asio::async_write(stream, asio::buffer(std::string_view("0\r\n\r\n")), kTuple);
      (void)ec;
      (void)n;
    }
    streams_served.fetch_add(1, std::memory_order_relaxed);
  }

  template <class Stream>
  asio::awaitable<void> write_reply(Stream& stream, const Reply& reply, std::string_view request_id,
                                    bool keep_alive, std::string& head, beast::error_code& ec_out) {
    serialize_head(head, reply, request_id, links, keep_alive, tls != nullptr);
    beast::get_lowest_layer(stream).expires_after(options.header_timeout);
    std::array<asio::const_buffer, 2> buffers{asio::buffer(head), asio::const_buffer{}};
    if (reply.send_body && reply.body) buffers[1] = asio::buffer(*reply.body);
    auto [ec, n] = co_await asio::async_write(stream, buffers, kTuple);
    (void)n;
    ec_out = ec;
  }

  // A connection counted by the accept loop (so the next accept already sees it), uncounted
  // when its coroutine ends, however it ends.
  // Holds one unit of a gauge for its scope: a coroutine ended any way (finished, failed, or
  // destroyed with its io_context at shutdown) gives it back.
  struct Held {
    std::atomic<std::uint64_t>& n;
    explicit Held(std::atomic<std::uint64_t>& gauge) : n(gauge) { n.fetch_add(1); }
    ~Held() { n.fetch_sub(1); }
    Held(const Held&) = delete;
    Held& operator=(const Held&) = delete;
  };

  struct Counted {
    std::atomic<std::uint64_t>& n;
    std::atomic<std::uint64_t>* overflow;
    ~Counted() {
      n.fetch_sub(1);
      if (overflow != nullptr) overflow->fetch_sub(1);
    }
  };

  asio::awaitable<void> plain_session(beast::tcp_stream stream, bool over) {
    const Counted counted{open, over ? &overflow_open : nullptr};
    co_await serve(stream, over);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  asio::awaitable<void> tls_session(beast::tcp_stream tcp_stream, bool over) {
    const Counted counted{open, over ? &overflow_open : nullptr};
    asio::ssl::stream<beast::tcp_stream> stream(std::move(tcp_stream), *tls);
    beast::get_lowest_layer(stream).expires_after(options.header_timeout);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
    if (!ec) {
      co_await serve(stream, over);
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
      auto [shutdown_ec] = co_await stream.async_shutdown(kTuple);
      (void)shutdown_ec;
    }
  }

  // Reads requests and answers them until the client or a limit ends the connection.
  // `over`: the connection came in over the cap. It gets one request, read quickly: the meta
  // endpoints (what monitoring needs to see the state of things) are answered, anything else is
  // 503 API012 with Retry-After; then it closes.
  template <class Stream>
  asio::awaitable<void> serve(Stream& stream, bool over = false) {
    beast::flat_buffer buffer;
    std::string head;
    bool first = true;
    std::shared_ptr<live::Stream> events;
    for (;;) {
      bhttp::request_parser<bhttp::empty_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
      parser.body_limit(64 * 1024);
      const auto limit = over ? std::min(options.header_timeout, kOverflowHeaderTimeout)
                              : (first ? options.header_timeout : options.idle_timeout);
      first = false;
      // The stream's own timeout closes the socket, leaving nothing to answer on: it is only the
      // backstop. The limit itself is a timer that cancels the read, so a request begun and not
      // finished in time can be told 408 before the close (RFC 9110 §15.5.9).
      beast::get_lowest_layer(stream).expires_after(limit + kTimeoutBackstop);
      struct ReadClock {
        bool reading = true;
        bool fired = false;
      };
      auto clock = std::make_shared<ReadClock>();
      asio::steady_timer deadline(co_await asio::this_coro::executor, limit);
      auto& raw_socket = beast::get_lowest_layer(stream).socket();
      // Runs on this connection's executor; touches the socket only while the read is pending.
      deadline.async_wait([clock, &raw_socket](boost::system::error_code tec) {
        if (tec || !clock->reading) return;
        clock->fired = true;
        boost::system::error_code ignored;
        raw_socket.cancel(ignored);
      });
      // The head only: a body is never read (narwhal takes none), and a request that has one
      // is answered and its connection closed, so its bytes cannot pass for a next request.
      auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, kTuple);
      (void)n;
      clock->reading = false;
      deadline.cancel();
      const auto read_at = std::chrono::steady_clock::now();
      const auto note = [&](const Reply& r, std::string_view method) {
        if (!options.observe) return;
        const std::chrono::duration<double> took = std::chrono::steady_clock::now() - read_at;
        options.observe({r.route, method, r.problem, r.status, took.count()});
      };
      if (clock->fired && ec == asio::error::operation_aborted) ec = beast::error::timeout;
      // Problems about the request as a whole name its path when the request line was read.
      const std::string_view requested = origin_form(parser.get().target());
      const std::string instance(requested.substr(0, requested.find('?')));
      if (ec) {
        if (ec == bhttp::error::header_limit) {
          header_limit_hits.fetch_add(1);
          const std::string id = new_request_id();
          const Reply r = handler.problem("API005",
                                          "the request line and headers exceed " +
                                              std::to_string(options.max_header_bytes) + " bytes",
                                          instance, id);
          beast::error_code wec;
          co_await write_reply(stream, r, id, false, head, wec);
          note(r, {});
        } else if (ec == beast::error::timeout) {
          timeouts.fetch_add(1);
          if (clock->fired && buffer.size() > 0) {
            const std::string id = new_request_id();
            const Reply r = handler.problem("API013",
                                            "the request line and headers did not arrive within " +
                                                std::to_string(limit.count()) + " ms",
                                            instance, id);
            beast::error_code wec;
            co_await write_reply(stream, r, id, false, head, wec);
            note(r, {});
          }
        } else if (ec != bhttp::error::end_of_stream && ec != asio::error::eof &&
                   ec != asio::error::connection_reset && ec != asio::error::operation_aborted &&
                   buffer.size() > 0) {
          const std::string id = new_request_id();
          const Reply r = handler.problem(
              "API007", "the request is not valid HTTP/1.1: " + ec.message(), instance, id);
          beast::error_code wec;
          co_await write_reply(stream, r, id, false, head, wec);
          note(r, {});
        }
        break;
      }
      const auto& req = parser.get();
      if (const auto bad = framing_error(req); !bad.empty()) {
        const std::string id = new_request_id();
        const Reply r = handler.problem("API007", bad, instance, id);
        beast::error_code wec;
        co_await write_reply(stream, r, id, false, head, wec);
        note(r, req.method_string());
        break;
      }
      const bool has_body = parser.chunked() || parser.content_length().value_or(0) > 0;
      std::optional<Held> busy;  // until the answer is written
      busy.emplace(in_flight);
      requests.fetch_add(1, std::memory_order_relaxed);
      Request rq;
      rq.method = req.method_string();
      rq.target = origin_form(req.target());
      auto field = [&](bhttp::field f) -> std::string_view {
        const auto it = req.find(f);
        return it == req.end() ? std::string_view{} : std::string_view(it->value());
      };
      rq.accept = field(bhttp::field::accept);
      rq.accept_encoding = field(bhttp::field::accept_encoding);
      rq.if_none_match = field(bhttp::field::if_none_match);
      rq.if_modified_since = field(bhttp::field::if_modified_since);
      rq.range = field(bhttp::field::range);
      rq.origin = field(bhttp::field::origin);
      rq.request_method = field(bhttp::field::access_control_request_method);
      rq.last_event_id = req["Last-Event-ID"];
      const auto given_id = req["Request-Id"];
      rq.request_id = acceptable_request_id(given_id) ? std::string(given_id) : new_request_id();
      const bool keep_alive = req.keep_alive() && !stopping.load() && !has_body && !over;
      const bool meta = rq.target.starts_with("/-/");
      // Not `cond ? a : co_await b`: GCC 12 destroys the temporary of a co_await inside a
      // conditional expression twice.
      Reply reply;
      if (over && !meta) {
        reply = over_cap(rq);
      } else {
        reply = co_await answer(rq);
      }
      beast::error_code wec;
      co_await write_reply(stream, reply, rq.request_id, keep_alive, head, wec);
      note(reply, rq.method);
      busy.reset();
      if (reply.stream) {
        if (wec) {
          reply.stream->close();
        } else {
          events = reply.stream;
        }
        break;
      }
      if (wec || !keep_alive) break;
    }
    if (events) {
      // The connection is a stream from now on: give back what reading requests took.
      buffer.clear();
      buffer.shrink_to_fit();
      head = std::string();
      co_await pump(stream, std::move(events));
    }
  }
};

Server::Server(ServerOptions options, const Handler& handler)
    : impl_(std::make_unique<Impl>(std::move(options), handler)) {}

Server::~Server() {
  stop();
  wait();
}

void Server::start() {
  auto& i = *impl_;
  if (i.links.empty()) set_links_base("");
  i.max_connections = i.options.max_connections;
  if (i.max_connections == 0) {
    rlimit nofile{};
    const std::uint64_t limit =
        ::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY
            ? nofile.rlim_cur
            : 1'048'576;
    i.max_connections = default_max_connections(limit);
  }
  // Room to tell a few clients over the cap that it is reached, and to answer health checks.
  i.max_overflow = std::max<std::size_t>(4, std::min<std::size_t>(64, i.max_connections / 16));
  if (!i.options.tls_cert.empty() || !i.options.tls_key.empty()) {
    i.tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    i.tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1);
    beast::error_code tls_ec;
    i.tls->use_certificate_chain_file(i.options.tls_cert, tls_ec);
    if (tls_ec) {
      throw std::runtime_error("TLS certificate " + i.options.tls_cert + ": " + tls_ec.message());
    }
    i.tls->use_private_key_file(i.options.tls_key, asio::ssl::context::pem, tls_ec);
    if (tls_ec) throw std::runtime_error("TLS key " + i.options.tls_key + ": " + tls_ec.message());
  }
  beast::error_code ec;
  const auto address = asio::ip::make_address(i.options.host, ec);
  if (ec)
    throw std::runtime_error("listen address \"" + i.options.host + "\" is not an IP address");
  const tcp::endpoint ep{address, i.options.port};
  i.acceptor.open(ep.protocol(), ec);
  if (!ec) i.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) i.acceptor.bind(ep, ec);
  if (!ec) i.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + i.options.host + ":" +
                             std::to_string(i.options.port) + ": " + ec.message());
  }
  i.bound_port = i.acceptor.local_endpoint().port();
  i.render_work.emplace(i.render_ioc.get_executor());
  for (unsigned t = 0; t < std::max(1U, i.options.render_threads); ++t) {
    i.render_threads.emplace_back([&i] {
      // Per thread on Linux (a thread is a task with its own nice value); best effort.
      (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 5);
      i.render_ioc.run();
    });
  }
  asio::co_spawn(i.acceptor.get_executor(), i.accept_loop(), asio::detached);
  const unsigned n = std::max(1U, i.options.threads);
  for (unsigned t = 0; t < n; ++t) i.threads.emplace_back([&i] { i.ioc.run(); });
}

void Server::set_links_base(std::string_view base_path) {
  impl_->links = "<" + std::string(base_path) + "/api>; rel=\"service-desc\", <" +
                 std::string(base_path) + "/api/context.jsonld>; rel=\"describedby\"";
}

std::uint16_t Server::port() const noexcept {
  return impl_->bound_port;
}

void Server::stop() {
  auto& i = *impl_;
  if (i.stopping.exchange(true)) return;
  asio::post(i.acceptor.get_executor(), [&i] {
    beast::error_code ignored;
    i.acceptor.close(ignored);
  });
  // Streams end now (with their last chunk); requests in flight get up to drain_timeout.
  std::vector<std::weak_ptr<live::Stream>> streams;
  {
    const std::lock_guard lock(i.streams_mutex);
    streams.swap(i.streams);
  }
  for (const auto& w : streams) {
    if (auto s = w.lock()) s->close();
  }
  const auto deadline = std::chrono::steady_clock::now() + i.options.drain_timeout;
  while ((i.in_flight.load() > 0 || i.streams_active.load() > 0) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  i.ioc.stop();
  for (auto& t : i.threads) {
    if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
  }
  // Renders still running finish (their answers go nowhere); queued ones are dropped.
  i.render_work.reset();
  i.render_ioc.stop();
  for (auto& t : i.render_threads) {
    if (t.joinable()) t.join();
  }
  {
    const std::lock_guard lock(i.done_mutex);
    i.done = true;
  }
  i.done_cv.notify_all();
}

void Server::wait() {
  std::unique_lock lock(impl_->done_mutex);
  impl_->done_cv.wait(lock, [&] { return impl_->done; });
}

Server::Stats Server::stats() const noexcept {
  return {impl_->open.load(),
          impl_->requests.load(),
          impl_->header_limit_hits.load(),
          impl_->timeouts.load(),
          impl_->internal_errors.load(),
          impl_->connection_limit_hits.load(),
          impl_->accept_errors.load(),
          impl_->max_connections,
          impl_->render_jobs.load(),
          impl_->render_waiting.load(),
          impl_->render_running.load(),
          impl_->render_rejected.load(),
          std::max(1U, impl_->options.render_threads)};
}

std::size_t default_max_connections(std::uint64_t fd_limit) noexcept {
  const std::uint64_t reserve = std::max<std::uint64_t>(64, fd_limit / 8);
  if (fd_limit <= reserve + 16) return 16;
  return static_cast<std::size_t>(std::min<std::uint64_t>(fd_limit - reserve, 1'000'000));
}

}  // namespace narwhal::http
