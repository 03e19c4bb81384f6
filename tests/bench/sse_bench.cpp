// sse_bench: N concurrent Server-Sent Events streams on one narwhal process, fed by the simulated
// engine at a steady change rate (issue 4). Prints the server's memory per idle stream, its CPU
// while changes flow, and the delay from an engine change to a client's receipt of it. Not a test:
// run it on demand (tests/bench/sse_bench.sh) on a quiet machine.
//
// The delay needs no matching table: the simulator stamps every change with the wall-clock time it
// happened (UpdatedAt, in nanoseconds), narwhal forwards the engine's object as it is, and client
// and simulator share this process's clock. So receipt time − resource.UpdatedAt covers the whole
// path: engine event, watcher coalescing and re-read, store, hub, batch window, write, kernel,
// read. The bench drives the changes itself (the simulator runs with churn 0) so that nothing
// changes while the idle memory is measured.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <rapidjson/reader.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "narwhal/sim/engine.hpp"

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using Nanos = std::int64_t;
using namespace std::chrono_literals;

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr Nanos kNanosPerSecond = 1'000'000'000;
constexpr Nanos kNanosPerMilli = 1'000'000;
// One read drains this much from a socket; shared per client thread, so 10 000 streams don't each
// hold a buffer while they wait.
constexpr std::size_t kReadBuffer = 256 * 1024;
// A stream's reads in one wake-up before it yields to the others.
constexpr int kReadsPerWakeup = 8;
constexpr std::size_t kMaxHeadBytes = 64 * 1024;
// Bounds the connect phase even when the server hangs every stream.
constexpr auto kConnectPhaseLimit = 300s;

volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void on_interrupt(int /*sig*/) {
  g_interrupted = 1;
}

Nanos wall_nanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Sleeps in small steps so that Ctrl-C still ends the run with a summary; false if interrupted.
bool sleep_unless_interrupted(std::chrono::steady_clock::duration d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (g_interrupted == 0) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= until) return true;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(until - now, 50ms));
  }
  return false;
}

struct Flags {
  std::string narwhal = "build-release/src/narwhal";
  std::size_t streams = 10000;
  std::vector<std::string> paths{"/events"};
  std::size_t services = 200;
  std::size_t tasks_per_service = 10;
  double rate = 100;
  // What one change is: "service" = one operation on one service (scale it by one, or fail one
  // of its tasks: a service or task event, then the replacement task); "churn" = the demo's mix,
  // where one change may drain a node or start a rolling update and so move hundreds of tasks.
  std::string changes = "service";
  double duration_s = 30;
  std::size_t measured = 50;
  unsigned server_threads = 0;
  unsigned client_threads = 1;
  std::size_t parallel_connects = 64;
  unsigned batch_ms = 100;
  double settle_s = 3;
  double drain_s = 3;
  double connect_timeout_s = 10;
  double ready_timeout_s = 120;
  std::uint16_t port = 0;
  std::uint64_t seed = 42;
  std::vector<std::string> server_args;
};

// ---- time stamps ---------------------------------------------------------------------------

// Howard Hinnant's civil date -> days since 1970-01-01; exact, no time zone database.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool read_digits(std::string_view s, std::size_t at, std::size_t len, std::int64_t& out) {
  out = 0;
  for (std::size_t i = at; i < at + len; ++i) {
    if (i >= s.size() || s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// RFC 3339 as Go's encoder writes time.Time ("2026-11-23T15:08:59.584414267Z").
std::optional<Nanos> parse_rfc3339_nanos(std::string_view s) {
  std::int64_t year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
      s[13] != ':' || s[16] != ':' || !read_digits(s, 0, 4, year) || !read_digits(s, 5, 2, month) ||
      !read_digits(s, 8, 2, day) || !read_digits(s, 11, 2, hour) ||
      !read_digits(s, 14, 2, minute) || !read_digits(s, 17, 2, second) || month < 1 || month > 12 ||
      day < 1 || day > 31) {
    return std::nullopt;
  }
  std::size_t i = 19;
  Nanos fraction = 0;
  if (i < s.size() && s[i] == '.') {
    int digits = 0;
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
      if (digits < 9) {
        fraction = fraction * 10 + (s[i] - '0');
        ++digits;
      }
    }
    for (; digits < 9; ++digits) fraction *= 10;
  }
  std::int64_t offset_s = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    std::int64_t oh = 0, om = 0;
    if (i + 6 > s.size() || s[i + 3] != ':' || !read_digits(s, i + 1, 2, oh) ||
        !read_digits(s, i + 4, 2, om)) {
      return std::nullopt;
    }
    offset_s = (s[i] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    i += 6;
  }
  if (i != s.size()) return std::nullopt;
  const std::int64_t days =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const std::int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  return secs * kNanosPerSecond + fraction;
}

// ---- what a stream receives ------------------------------------------------------------------

enum class Kind : std::uint8_t {
  kService,
  kTask,
  kNode,
  kConfig,
  kSecret,
  kNetwork,
  kVolume,
  kOther
};
constexpr std::size_t kKinds = 8;
constexpr std::array<const char*, kKinds> kKindNames{"service", "task",    "node",   "config",
                                                     "secret",  "network", "volume", "other"};

Kind classify(std::string_view type) {
  for (std::size_t i = 0; i + 1 < kKinds; ++i) {
    if (type == kKindNames[i]) return static_cast<Kind>(i);
  }
  return Kind::kOther;
}

struct Change {
  Kind kind = Kind::kOther;
  bool removed = false;
  Nanos updated = -1;  // resource.UpdatedAt; -1 when absent (removals, stacks)
};

// Reads, from one event's data (an event object, or the array of a batch), each event's type and
// its resource's UpdatedAt with RapidJSON's SAX reader: measured streams parse every byte they get,
// and a DOM would cost the client CPU the server needs.
class ChangeScan : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, ChangeScan> {
 public:
  // False when the data is not JSON.
  bool scan(const std::string& data, std::vector<Change>& out) {
    out_ = &out;
    depth_ = 0;
    batch_ = false;
    in_resource_ = false;
    key_.clear();
    rapidjson::Reader reader;
    rapidjson::StringStream in(data.c_str());
    return !reader.Parse(in, *this).IsError();
  }

  bool StartObject() {
    ++depth_;
    if (depth_ == item_depth()) {
      current_ = {};
    } else if (depth_ == item_depth() + 1 && key_ == "resource") {
      in_resource_ = true;
    }
    key_.clear();
    return true;
  }
  bool EndObject(rapidjson::SizeType /*members*/) {
    if (in_resource_ && depth_ == item_depth() + 1) {
      in_resource_ = false;
    } else if (depth_ == item_depth()) {
      out_->push_back(current_);
    }
    --depth_;
    key_.clear();
    return true;
  }
  bool StartArray() {
    if (depth_ == 0) batch_ = true;
    ++depth_;
    key_.clear();
    return true;
  }
  bool EndArray(rapidjson::SizeType /*elements*/) {
    --depth_;
    key_.clear();
    return true;
  }
  bool Key(const char* s, rapidjson::SizeType n, bool /*copy*/) {
    key_.assign(s, n);
    return true;
  }
  bool String(const char* s, rapidjson::SizeType n, bool /*copy*/) {
    const std::string_view value(s, n);
    if (depth_ == item_depth()) {
      if (key_ == "type") current_.kind = classify(value);
      if (key_ == "action") current_.removed = value == "remove";
    } else if (in_resource_ && depth_ == item_depth() + 1 && key_ == "UpdatedAt") {
      current_.updated = parse_rfc3339_nanos(value).value_or(-1);
    }
    key_.clear();
    return true;
  }
  bool Default() {  // every other scalar: only ends the member it is the value of
    key_.clear();
    return true;
  }

 private:
  [[nodiscard]] int item_depth() const { return batch_ ? 2 : 1; }

  std::vector<Change>* out_ = nullptr;
  Change current_;
  std::string key_;
  int depth_ = 0;
  bool batch_ = false;
  bool in_resource_ = false;
};

// SSE framing as the WHATWG spec interprets it: lines end in CRLF, LF or CR; an event ends at a
// blank line; data lines join with "\n"; ":" starts a comment. Streams that only count events
// skip the data bytes instead of keeping them.
class SseParser {
 public:
  explicit SseParser(bool keep_data) : keep_data_(keep_data) {}

  template <class OnEvent>
  void feed(std::string_view in, OnEvent& on_event) {
    while (!in.empty()) {
      if (skip_lf_) {
        skip_lf_ = false;
        if (in.front() == '\n') {
          in.remove_prefix(1);
          continue;
        }
      }
      const char* base = in.data();
      const void* lf = std::memchr(base, '\n', in.size());
      const std::size_t lf_at =
          lf != nullptr ? static_cast<std::size_t>(static_cast<const char*>(lf) - base) : in.size();
      // Searching for CR only up to the LF keeps long data lines linear.
      const void* cr = std::memchr(base, '\r', lf_at);
      const std::size_t eol =
          cr != nullptr ? static_cast<std::size_t>(static_cast<const char*>(cr) - base) : lf_at;
      append_to_line(in.substr(0, eol));
      if (eol == in.size()) return;
      skip_lf_ = base[eol] == '\r';
      in.remove_prefix(eol + 1);
      end_line(on_event);
    }
  }

  [[nodiscard]] std::uint64_t comments() const { return comments_; }
  [[nodiscard]] bool saw_retry() const { return saw_retry_; }

 private:
  void append_to_line(std::string_view part) {
    if (skipping_data_) return;
    line_.append(part);
    if (!keep_data_ && line_.starts_with("data:")) {
      skipping_data_ = true;
      line_.clear();
    }
  }

  template <class OnEvent>
  void end_line(OnEvent& on_event) {
    if (skipping_data_) {
      skipping_data_ = false;
      has_data_ = true;
      return;
    }
    if (line_.empty()) {
      if (has_data_) on_event(std::string_view(event_.empty() ? "message" : event_), data_);
      has_data_ = false;
      data_.clear();
      event_.clear();
      return;
    }
    if (line_.front() == ':') {
      ++comments_;
      line_.clear();
      return;
    }
    const auto colon = line_.find(':');
    const std::string_view field = std::string_view(line_).substr(0, colon);
    std::string_view value =
        colon == std::string::npos ? std::string_view() : std::string_view(line_).substr(colon + 1);
    if (value.starts_with(' ')) value.remove_prefix(1);
    if (field == "data") {
      if (keep_data_) {
        if (has_data_) data_.push_back('\n');
        data_.append(value);
      }
      has_data_ = true;
    } else if (field == "event") {
      event_.assign(value);
    } else if (field == "retry") {
      saw_retry_ = true;
    }
    line_.clear();
  }

  bool keep_data_;
  bool skip_lf_ = false;
  bool skipping_data_ = false;
  bool has_data_ = false;
  bool saw_retry_ = false;
  std::uint64_t comments_ = 0;
  std::string line_;
  std::string event_;
  std::string data_;
};

// The response body: HTTP/1.1 chunked framing around the SSE stream, or a plain close-delimited
// body when the head has no Transfer-Encoding.
class BodyDecoder {
 public:
  explicit BodyDecoder(bool keep_data) : sse_(keep_data) {}

  void start(bool chunked) { state_ = chunked ? State::kSize : State::kPlain; }

  // False once the framing is broken or the body has ended; the stream is then over.
  template <class OnEvent>
  bool feed(std::string_view in, OnEvent& on_event) {
    while (!in.empty()) {
      switch (state_) {
        case State::kPlain: sse_.feed(in, on_event); return true;
        case State::kSize: {
          const char c = in.front();
          in.remove_prefix(1);
          if (const int v = hex_value(c); v >= 0) {
            if (++size_digits_ > 15) return broken();
            size_ = size_ * 16 + static_cast<std::uint64_t>(v);
          } else if (c == '\n') {
            if (!end_size_line()) return broken();
          } else if (c == ';' || c == ' ' || c == '\t') {
            state_ = State::kExtension;
          } else if (c != '\r') {
            return broken();
          }
          break;
        }
        case State::kExtension: {
          const auto lf = in.find('\n');
          if (lf == std::string_view::npos) return true;
          in.remove_prefix(lf + 1);
          if (!end_size_line()) return broken();
          break;
        }
        case State::kData: {
          const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(size_, in.size()));
          sse_.feed(in.substr(0, n), on_event);
          in.remove_prefix(n);
          size_ -= n;
          if (size_ == 0) state_ = State::kDataEnd;
          break;
        }
        case State::kDataEnd: {
          const char c = in.front();
          in.remove_prefix(1);
          if (c == '\n') {
            state_ = State::kSize;
          } else if (c != '\r') {
            return broken();
          }
          break;
        }
        case State::kTrailer: {
          const char c = in.front();
          in.remove_prefix(1);
          if (c == '\n') {
            if (trailer_line_ == 0) {
              state_ = State::kEnd;
              return false;
            }
            trailer_line_ = 0;
          } else if (c != '\r') {
            ++trailer_line_;
          }
          break;
        }
        case State::kEnd:
        case State::kBroken: return false;
      }
    }
    return state_ != State::kEnd && state_ != State::kBroken;
  }

  [[nodiscard]] bool is_broken() const { return state_ == State::kBroken; }
  [[nodiscard]] const SseParser& sse() const { return sse_; }

 private:
  enum class State : std::uint8_t {
    kPlain,
    kSize,
    kExtension,
    kData,
    kDataEnd,
    kTrailer,
    kEnd,
    kBroken
  };

  static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool end_size_line() {
    if (size_digits_ == 0) return false;
    state_ = size_ == 0 ? State::kTrailer : State::kData;
    size_digits_ = 0;
    trailer_line_ = 0;
    return true;
  }

  bool broken() {
    state_ = State::kBroken;
    return false;
  }

  SseParser sse_;
  State state_ = State::kPlain;
  std::uint64_t size_ = 0;
  int size_digits_ = 0;
  std::size_t trailer_line_ = 0;
};

struct Head {
  int status = 0;
  bool chunked = false;
  bool event_stream = false;
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<Head> parse_head(std::string_view head) {
  Head h;
  if (!head.starts_with("HTTP/1.") || head.size() < 12 || head[8] != ' ') return std::nullopt;
  std::int64_t status = 0;
  if (!read_digits(head, 9, 3, status)) return std::nullopt;
  h.status = static_cast<int>(status);
  std::size_t at = head.find("\r\n");
  while (at != std::string_view::npos && at + 2 < head.size()) {
    at += 2;
    const std::size_t end = std::min(head.find("\r\n", at), head.size());
    const std::string_view line = head.substr(at, end - at);
    const auto colon = line.find(':');
    if (colon != std::string_view::npos) {
      const std::string_view name = line.substr(0, colon);
      const std::string value = lower(line.substr(colon + 1));
      if (iequals(name, "transfer-encoding")) {
        h.chunked = value.find("chunked") != std::string::npos;
      } else if (iequals(name, "content-type")) {
        h.event_stream = value.find("text/event-stream") != std::string::npos;
      }
    }
    at = end;
  }
  return h;
}

// ---- the client fleet -------------------------------------------------------------------------

enum class Phase : int { kConnecting, kIdle, kChanging, kDraining, kStopping };

struct Delay {
  Nanos nanos;
  Kind kind;
};

struct Counters {
  std::atomic<std::size_t> handshakes_done{0};
  std::atomic<std::size_t> connected{0};
  std::atomic<std::size_t> status_429{0};
  std::atomic<std::size_t> status_other{0};
  std::atomic<std::size_t> not_event_stream{0};
  std::atomic<std::size_t> connect_failed{0};
  std::atomic<std::size_t> timed_out{0};
  std::atomic<std::size_t> closed_by_server{0};
  std::atomic<std::size_t> framing_errors{0};
  std::atomic<std::uint64_t> messages{0};
  std::atomic<std::uint64_t> batches{0};
  std::atomic<std::uint64_t> syncs{0};
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<std::uint64_t> bad_json{0};
  std::mutex close_mutex;  // why the server ended streams, for the report
  std::map<std::string, std::size_t> close_reasons;
  void closed_because(std::string reason) {
    closed_by_server.fetch_add(1);
    const std::lock_guard lock(close_mutex);
    ++close_reasons[std::move(reason)];
  }
};

struct Stream {
  Stream(asio::io_context& io, std::string target, bool measure)
      : strand(asio::make_strand(io)),
        socket(strand),
        timer(strand),
        path(std::move(target)),
        measured(measure),
        body(measure) {}

  asio::strand<asio::io_context::executor_type> strand;
  tcp::socket socket;
  asio::steady_timer timer;
  std::string path;
  bool measured;
  bool timed_out = false;
  bool got_sync = false;
  bool open = false;
  BodyDecoder body;
  std::vector<Delay> delays;  // measured streams only
  std::uint64_t changes = 0;  // events inside messages (measured streams only)
  std::uint64_t stale = 0;    // changes stamped before the change phase began
  std::uint64_t untimed = 0;  // removals and objects without UpdatedAt
};

std::span<char> read_buffer() {
  thread_local std::vector<char> buffer(kReadBuffer);
  return buffer;
}

class Fleet {
 public:
  Fleet(asio::io_context& io, const Flags& flags, tcp::endpoint server, Counters& counters)
      : flags_(flags), server_(server), counters_(counters) {
    const std::size_t stride =
        std::max<std::size_t>(1, flags.streams / std::max<std::size_t>(1, flags.measured));
    streams_.reserve(flags.streams);
    for (std::size_t i = 0; i < flags.streams; ++i) {
      const bool measure = flags.measured > 0 && i % stride == 0 && i / stride < flags.measured;
      streams_.push_back(
          std::make_unique<Stream>(io, flags.paths[i % flags.paths.size()], measure));
    }
  }

  void launch() {
    std::lock_guard lock(mutex_);
    launch_more();
  }

  void set_phase(Phase p, Nanos change_start = 0) {
    if (change_start != 0) change_start_.store(change_start);
    phase_.store(p);
  }

  // Only after the client threads have stopped.
  [[nodiscard]] const std::vector<std::unique_ptr<Stream>>& streams() const { return streams_; }

 private:
  void launch_more() {
    while (in_flight_ < flags_.parallel_connects && next_ < streams_.size()) {
      Stream& s = *streams_[next_++];
      ++in_flight_;
      asio::co_spawn(s.strand, run(s), asio::detached);
    }
  }

  void handshake_finished() {
    counters_.handshakes_done.fetch_add(1);
    std::lock_guard lock(mutex_);
    --in_flight_;
    launch_more();
  }

  asio::awaitable<void> run(Stream& s) {
    const bool ok = co_await handshake(s);
    handshake_finished();
    if (ok) co_await read_body(s);
    boost::system::error_code ignored;
    s.socket.close(ignored);
  }

  asio::awaitable<bool> handshake(Stream& s) {
    s.timer.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(flags_.connect_timeout_s)));
    s.timer.async_wait([&s](boost::system::error_code ec) {
      if (ec) return;
      s.timed_out = true;
      boost::system::error_code ignored;
      s.socket.close(ignored);
    });
    const bool ok = co_await request(s);
    s.timer.cancel();
    if (!ok && s.timed_out) counters_.timed_out.fetch_add(1);
    co_return ok;
  }

  asio::awaitable<bool> request(Stream& s) {
    auto [connect_ec] = co_await s.socket.async_connect(server_, kNoThrow);
    if (connect_ec) {
      if (!s.timed_out) counters_.connect_failed.fetch_add(1);
      co_return false;
    }
    boost::system::error_code ec;
    s.socket.set_option(tcp::no_delay(true), ec);
    const std::string req =
        "GET " + s.path + " HTTP/1.1\r\nHost: " + server_.address().to_string() + ":" +
        std::to_string(server_.port()) +
        "\r\nAccept: text/event-stream\r\nUser-Agent: narwhal-sse-bench\r\n\r\n";
    auto [write_ec, written] = co_await asio::async_write(s.socket, asio::buffer(req), kNoThrow);
    if (write_ec) {
      if (!s.timed_out) counters_.connect_failed.fetch_add(1);
      co_return false;
    }
    s.socket.non_blocking(true, ec);
    std::string head;
    for (;;) {
      auto [wait_ec] = co_await s.socket.async_wait(tcp::socket::wait_read, kNoThrow);
      if (wait_ec) {
        if (!s.timed_out) counters_.connect_failed.fetch_add(1);
        co_return false;
      }
      const std::span<char> buffer = read_buffer();
      const std::size_t n = s.socket.read_some(asio::buffer(buffer.data(), buffer.size()), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
      if (ec) {
        counters_.connect_failed.fetch_add(1);
        co_return false;
      }
      const Nanos received = wall_nanos();
      head.append(buffer.data(), n);
      const auto end = head.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (head.size() > kMaxHeadBytes) {
          counters_.status_other.fetch_add(1);
          co_return false;
        }
        continue;
      }
      const auto parsed = parse_head(std::string_view(head).substr(0, end + 2));
      if (!parsed || parsed->status != 200) {
        (parsed && parsed->status == 429 ? counters_.status_429 : counters_.status_other)
            .fetch_add(1);
        co_return false;
      }
      if (!parsed->event_stream) {
        counters_.not_event_stream.fetch_add(1);
        co_return false;
      }
      counters_.connected.fetch_add(1);
      s.open = true;
      s.body.start(parsed->chunked);
      co_return consume(s, std::string_view(head).substr(end + 4), received);
    }
  }

  asio::awaitable<void> read_body(Stream& s) {
    for (;;) {
      auto [wait_ec] = co_await s.socket.async_wait(tcp::socket::wait_read, kNoThrow);
      if (wait_ec) break;
      for (int round = 0; round < kReadsPerWakeup; ++round) {
        const std::span<char> buffer = read_buffer();
        boost::system::error_code ec;
        const std::size_t n = s.socket.read_some(asio::buffer(buffer.data(), buffer.size()), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) break;
        if (ec || !consume(s, std::string_view(buffer.data(), n), wall_nanos())) {
          if (phase_.load() != Phase::kStopping) {
            counters_.closed_because(ec ? ec.message() : "the response ended");
          }
          s.open = false;
          co_return;
        }
      }
    }
  }

  // False when the stream is over (framing broken or the body ended).
  bool consume(Stream& s, std::string_view bytes, Nanos received) {
    counters_.bytes.fetch_add(bytes.size(), std::memory_order_relaxed);
    auto on_event = [&](std::string_view event, const std::string& data) {
      counters_.messages.fetch_add(1, std::memory_order_relaxed);
      if (event == "batch") counters_.batches.fetch_add(1, std::memory_order_relaxed);
      if (event == "sync") {
        counters_.syncs.fetch_add(1, std::memory_order_relaxed);
        s.got_sync = true;
      }
      if (s.measured && !data.empty() && event != "sync") measure(s, data, received);
    };
    const bool more = s.body.feed(bytes, on_event);
    if (s.body.is_broken()) counters_.framing_errors.fetch_add(1);
    return more;
  }

  void measure(Stream& s, const std::string& data, Nanos received) {
    thread_local ChangeScan scan;
    thread_local std::vector<Change> changes;
    changes.clear();
    if (!scan.scan(data, changes)) {
      counters_.bad_json.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const Phase phase = phase_.load();
    if (phase != Phase::kChanging && phase != Phase::kDraining) return;
    const Nanos start = change_start_.load();
    for (const Change& c : changes) {
      ++s.changes;
      if (c.removed || c.updated < 0) {
        ++s.untimed;
      } else if (c.updated < start) {
        ++s.stale;
      } else {
        s.delays.push_back({received - c.updated, c.kind});
      }
    }
  }

  const Flags& flags_;
  tcp::endpoint server_;
  Counters& counters_;
  std::vector<std::unique_ptr<Stream>> streams_;
  std::mutex mutex_;  // guards next_ and in_flight_
  std::size_t next_ = 0;
  std::size_t in_flight_ = 0;
  std::atomic<Phase> phase_{Phase::kConnecting};
  std::atomic<Nanos> change_start_{0};
};

// ---- the server process -------------------------------------------------------------------------

struct ProcMemory {
  std::int64_t rss_kib = -1;
  std::int64_t hwm_kib = -1;
  int threads = 0;
};

ProcMemory read_memory(pid_t pid) {
  ProcMemory m;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string name;
    fields >> name;
    if (name == "VmRSS:") fields >> m.rss_kib;
    if (name == "VmHWM:") fields >> m.hwm_kib;
    if (name == "Threads:") fields >> m.threads;
  }
  return m;
}

// utime + stime in clock ticks; -1 when the process is gone.
std::int64_t read_cpu_ticks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name may hold spaces and parentheses: fields count from the last ')'.
  const auto paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(stat.substr(paren + 1));
  std::string field;
  std::int64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) stime = std::stoll(field);
  }
  return utime + stime;
}

double self_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

class ServerProcess {
 public:
  ServerProcess() = default;
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess() { terminate(); }

  bool spawn(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      // An interrupted or crashed bench must not leave a server holding the port.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(1);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    return true;
  }

  [[nodiscard]] pid_t pid() const { return pid_; }

  // False once it has exited; `status` then says how.
  bool running() {
    if (pid_ <= 0) return false;
    if (::waitpid(pid_, &status_, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }

  [[nodiscard]] int status() const { return status_; }

  void terminate() {
    if (!running()) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 200 && running(); ++i) std::this_thread::sleep_for(50ms);
    if (running()) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status_, 0);
      pid_ = -1;
    }
  }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
};

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  std::uint16_t port = 0;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  if (fd >= 0) ::close(fd);
  return port;
}

// GET /-/ready with plain blocking sockets: the status code, or 0 when there is no answer.
int ready_status(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  timeval timeout{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  int status = 0;
  const std::string req = "GET /-/ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
    std::array<char, 64> buf{};
    std::size_t got = 0;
    while (got < 12) {
      const ssize_t n = ::recv(fd, buf.data() + got, buf.size() - got, 0);
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    std::int64_t code = 0;
    if (got >= 12 && read_digits(std::string_view(buf.data(), got), 9, 3, code)) {
      status = static_cast<int>(code);
    }
  }
  ::close(fd);
  return status;
}

void raise_fd_limit(std::size_t wanted) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  lim.rlim_cur = lim.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < wanted) {
    std::fprintf(stderr,
                 "sse_bench: warning: open-file limit %llu < %zu streams + spare; raise the hard "
                 "limit (ulimit -Hn)\n",
                 static_cast<unsigned long long>(lim.rlim_cur), wanted);
  }
}

// ---- the summary ----------------------------------------------------------------------------

double percentile_ms(const std::vector<Nanos>& sorted, double q) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<std::size_t>(q * static_cast<double>(sorted.size()));
  if (rank >= sorted.size()) rank = sorted.size() - 1;
  return static_cast<double>(sorted[rank]) / static_cast<double>(kNanosPerMilli);
}

void print_delays(const char* label, std::vector<Nanos> delays) {
  if (delays.empty()) {
    std::printf("  %-9s no timed events\n", label);
    return;
  }
  std::sort(delays.begin(), delays.end());
  std::printf("  %-9s n=%-8zu p50 %7.1f  p90 %7.1f  p99 %7.1f  max %7.1f ms\n", label,
              delays.size(), percentile_ms(delays, 0.50), percentile_ms(delays, 0.90),
              percentile_ms(delays, 0.99), percentile_ms(delays, 1.0));
}

double mib(std::int64_t kib) {
  return static_cast<double>(kib) / 1024.0;
}

struct Figures {
  ProcMemory idle;
  ProcMemory with_streams;
  ProcMemory after_changes;
  double connect_seconds = 0;
  double change_seconds = 0;
  std::uint64_t changes_made = 0;
  double server_cpu_percent = -1;
  double server_cpu_peak_percent = -1;
  double client_cpu_percent = -1;
  std::uint64_t idle_messages = 0;  // received before the first change
  bool interrupted = false;
};

void print_summary(const Flags& flags, const Counters& c, const Figures& f,
                   const std::vector<std::unique_ptr<Stream>>& streams) {
  std::string paths;
  for (const auto& p : flags.paths) paths += (paths.empty() ? "" : ",") + p;
  std::printf("\nsse_bench: %s  (%zu services x %zu tasks, %zu streams on %s)%s\n",
              flags.narwhal.c_str(), flags.services, flags.tasks_per_service, flags.streams,
              paths.c_str(), f.interrupted ? "  [interrupted]" : "");
  std::printf(
      "streams    %zu connected in %.1f s; failed: %zu x 429, %zu other status, %zu not "
      "SSE, %zu connect errors, %zu timeouts\n",
      c.connected.load(), f.connect_seconds, c.status_429.load(), c.status_other.load(),
      c.not_event_stream.load(), c.connect_failed.load(), c.timed_out.load());
  std::size_t retry = 0, with_sync = 0, open = 0;
  std::uint64_t comments = 0;
  for (const auto& s : streams) {
    retry += s->body.sse().saw_retry() ? 1 : 0;
    with_sync += s->got_sync ? 1 : 0;
    open += s->open ? 1 : 0;
    comments += s->body.sse().comments();
  }
  std::printf(
      "           %zu still open at the end, %zu closed by the server, %zu framing "
      "errors; %zu sent retry:\n",
      open, c.closed_by_server.load(), c.framing_errors.load(), retry);
  for (const auto& [reason, n] : c.close_reasons) {
    std::printf("           closed by the server: %zu x %s\n", n, reason.c_str());
  }
  const std::size_t connected = std::max<std::size_t>(1, c.connected.load());
  const std::int64_t grown = f.with_streams.rss_kib - f.idle.rss_kib;
  std::printf(
      "memory     server RSS idle %.1f MiB, with streams %.1f MiB (%d threads): %.1f KiB "
      "per idle stream (aim < 20)\n",
      mib(f.idle.rss_kib), mib(f.with_streams.rss_kib), f.with_streams.threads,
      static_cast<double>(grown) / static_cast<double>(connected));
  std::printf("           after the changes RSS %.1f MiB, peak (VmHWM) %.1f MiB\n",
              mib(f.after_changes.rss_kib), mib(f.after_changes.hwm_kib));
  std::printf("changes    %llu made in %.1f s (%.1f/s asked, kind: %s)\n",
              static_cast<unsigned long long>(f.changes_made), f.change_seconds, flags.rate,
              flags.changes.c_str());
  std::printf(
      "received   %llu SSE messages (%llu batches, %llu sync), %llu keepalive comments, "
      "%.1f MiB; %zu streams got a sync (dropped events)\n",
      static_cast<unsigned long long>(c.messages.load()),
      static_cast<unsigned long long>(c.batches.load()),
      static_cast<unsigned long long>(c.syncs.load()), static_cast<unsigned long long>(comments),
      static_cast<double>(c.bytes.load()) / (1024.0 * 1024.0), with_sync);
  if (f.idle_messages != 0) {
    std::printf("           %llu of them before the first change: the idle RSS was not idle\n",
                static_cast<unsigned long long>(f.idle_messages));
  }
  std::printf(
      "cpu        server %.0f%% of one core on average, %.0f%% in its busiest second; "
      "this process (clients + simulator) %.0f%%\n",
      f.server_cpu_percent, f.server_cpu_peak_percent, f.client_cpu_percent);

  std::vector<Nanos> all;
  std::array<std::vector<Nanos>, kKinds> by_kind;
  std::size_t measured = 0;
  std::uint64_t changes = 0, stale = 0, untimed = 0;
  for (const auto& s : streams) {
    if (!s->measured) continue;
    ++measured;
    changes += s->changes;
    stale += s->stale;
    untimed += s->untimed;
    for (const Delay& d : s->delays) {
      all.push_back(d.nanos);
      by_kind[static_cast<std::size_t>(d.kind)].push_back(d.nanos);
    }
  }
  std::printf(
      "delay      engine change (resource UpdatedAt) -> client receipt, over %zu measured "
      "streams: %llu changes, %llu untimed (removals, stacks), %llu stale\n",
      measured, static_cast<unsigned long long>(changes), static_cast<unsigned long long>(untimed),
      static_cast<unsigned long long>(stale));
  print_delays("all", all);
  for (std::size_t k = 0; k < kKinds; ++k) {
    if (!by_kind[k].empty()) print_delays(kKindNames[k], std::move(by_kind[k]));
  }
  if (c.bad_json.load() != 0) {
    std::printf("           %llu event payloads were not JSON\n",
                static_cast<unsigned long long>(c.bad_json.load()));
  }
  if (!all.empty()) {
    std::sort(all.begin(), all.end());
    const double window = static_cast<double>(flags.batch_ms);
    // No off-the-shelf SSE server to compare with: the batch window is the reference, since
    // every change waits up to one window by design.
    std::printf(
        "reference  batch window %u ms: p50 = %.2f windows, p99 = %.2f windows (aim p99 "
        "< 250 ms = 2.5 windows)\n",
        flags.batch_ms, percentile_ms(all, 0.50) / window, percentile_ms(all, 0.99) / window);
  }
}

// ---- the run ----------------------------------------------------------------------------------

bool parse_flags(int argc, char** argv, Flags& flags, int& exit_code) {
  CLI::App app{
      "Opens N SSE streams on a narwhal fed by the in-process simulated engine, drives changes at "
      "a steady rate, and prints server RSS per idle stream, server CPU and the change -> receipt "
      "delay."};
  app.add_option("narwhal", flags.narwhal, "narwhal binary")->capture_default_str();
  app.add_option("-n,--streams", flags.streams, "SSE streams to open")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
  app.add_option("--paths", flags.paths,
                 "URLs the streams spread over, round-robin (e.g. /events,/services,/tasks)")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--services", flags.services, "simulated services")->capture_default_str();
  app.add_option("--tasks-per-service", flags.tasks_per_service, "tasks per simulated service")
      ->capture_default_str();
  app.add_option("--rate", flags.rate, "engine changes per second in the change phase")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 100000.0));
  app.add_option("--changes", flags.changes,
                 "service: each change scales one service by one or fails one of its tasks; "
                 "churn: the demo's mix (node drains, rolling updates, ...)")
      ->capture_default_str()
      ->check(CLI::IsMember({"service", "churn"}));
  app.add_option("--duration", flags.duration_s, "seconds of changes")->capture_default_str();
  app.add_option("--measured", flags.measured,
                 "streams (spread evenly) that parse every event for the delay; the rest only "
                 "count, so the clients leave the CPU to the server")
      ->capture_default_str();
  app.add_option("--server-threads", flags.server_threads, "narwhal --threads (0 = its default)")
      ->capture_default_str();
  app.add_option("--client-threads", flags.client_threads, "threads running the client streams")
      ->capture_default_str()
      ->check(CLI::Range(1U, 64U));
  app.add_option("--parallel-connects", flags.parallel_connects, "handshakes in flight at once")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}));
  app.add_option("--batch-ms", flags.batch_ms, "narwhal --sse-batch-interval, in ms")
      ->capture_default_str();
  app.add_option("--settle", flags.settle_s, "seconds of quiet before each RSS reading")
      ->capture_default_str();
  app.add_option("--drain", flags.drain_s, "seconds of reading after the last change")
      ->capture_default_str();
  app.add_option("--connect-timeout", flags.connect_timeout_s,
                 "seconds a stream may take to get its response head")
      ->capture_default_str();
  app.add_option("--ready-timeout", flags.ready_timeout_s, "seconds to wait for /-/ready")
      ->capture_default_str();
  app.add_option("--port", flags.port, "port for narwhal (0 = a free one)")->capture_default_str();
  app.add_option("--seed", flags.seed, "simulator seed")->capture_default_str();
  app.add_option("--server-arg", flags.server_args,
                 "extra narwhal argument, repeatable (--server-arg=--sse-keepalive=5s)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    exit_code = app.exit(e);
    return false;
  }
  if (flags.paths.empty()) flags.paths = {"/events"};
  return true;
}

int run(const Flags& flags) {
  raise_fd_limit(flags.streams + 64);
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGPIPE, SIG_IGN);

  std::error_code fs_ec;
  const auto dir = std::filesystem::temp_directory_path(fs_ec) /
                   ("narwhal-sse-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir, fs_ec);
  struct RemoveDir {
    std::filesystem::path path;
    ~RemoveDir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  } remove_dir{dir};

  narwhal::sim::Options sim;
  sim.socket_path = (dir / "engine.sock").string();
  sim.services = flags.services;
  sim.tasks_per_service = flags.tasks_per_service;
  sim.churn_per_second = 0;  // the bench makes the changes, so it knows when they happen
  sim.seed = flags.seed;
  narwhal::sim::Engine engine(sim);
  engine.start();
  std::fprintf(stderr, "sse_bench: simulated engine: %zu services, %zu tasks\n",
               engine.service_count(), engine.task_count());

  const std::uint16_t port = flags.port != 0 ? flags.port : free_port();
  std::vector<std::string> args{flags.narwhal,
                                "--docker-host",
                                engine.docker_host(),
                                "--listen",
                                "127.0.0.1:" + std::to_string(port),
                                "--sse-max-streams",
                                std::to_string(std::max<std::size_t>(20000, flags.streams)),
                                "--sse-batch-interval",
                                std::to_string(flags.batch_ms) + "ms",
                                "--log-level",
                                "warn"};
  if (flags.server_threads != 0) {
    args.insert(args.end(), {"--threads", std::to_string(flags.server_threads)});
  }
  args.insert(args.end(), flags.server_args.begin(), flags.server_args.end());
  ServerProcess server;
  if (!server.spawn(args)) {
    std::fprintf(stderr, "sse_bench: cannot start %s: %s\n", flags.narwhal.c_str(),
                 std::strerror(errno));
    return 1;
  }
  const auto ready_deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(flags.ready_timeout_s);
  while (ready_status(port) != 200) {
    if (!server.running()) {
      std::fprintf(stderr, "sse_bench: %s exited before it was ready (wait status %d)\n",
                   flags.narwhal.c_str(), server.status());
      return 1;
    }
    if (std::chrono::steady_clock::now() > ready_deadline || g_interrupted != 0) {
      std::fprintf(stderr, "sse_bench: %s not ready on port %u\n", flags.narwhal.c_str(), port);
      return 1;
    }
    std::this_thread::sleep_for(100ms);
  }
  const pid_t pid = server.pid();
  const auto seconds = [](double s) {
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(s));
  };
  Figures f;
  sleep_unless_interrupted(seconds(flags.settle_s));
  f.idle = read_memory(pid);
  std::fprintf(stderr, "sse_bench: narwhal pid %d ready on port %u, idle RSS %.1f MiB\n", pid, port,
               mib(f.idle.rss_kib));

  Counters counters;
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  Fleet fleet(io, flags, tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port), counters);
  std::vector<std::thread> client_threads;
  for (unsigned i = 0; i < flags.client_threads; ++i) {
    client_threads.emplace_back([&io] { io.run(); });
  }

  const auto connect_start = std::chrono::steady_clock::now();
  fleet.launch();
  auto last_report = connect_start;
  while (counters.handshakes_done.load() < flags.streams && g_interrupted == 0 &&
         std::chrono::steady_clock::now() - connect_start < kConnectPhaseLimit) {
    std::this_thread::sleep_for(50ms);
    if (std::chrono::steady_clock::now() - last_report >= 1s) {
      last_report = std::chrono::steady_clock::now();
      std::fprintf(stderr, "sse_bench: %zu/%zu streams open\n", counters.connected.load(),
                   flags.streams);
    }
  }
  f.connect_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - connect_start).count();
  fleet.set_phase(Phase::kIdle);
  sleep_unless_interrupted(seconds(flags.settle_s));
  f.with_streams = read_memory(pid);
  std::fprintf(stderr, "sse_bench: %zu streams open, server RSS %.1f MiB\n",
               counters.connected.load(), mib(f.with_streams.rss_kib));

  const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  f.idle_messages = counters.messages.load();
  const Nanos change_start = wall_nanos();
  fleet.set_phase(Phase::kChanging, change_start);
  std::atomic<bool> stop_changes{false};
  std::atomic<std::uint64_t> changes_made{0};
  const std::int64_t cpu_start = read_cpu_ticks(pid);
  const double self_cpu_start = self_cpu_seconds();
  const auto phase_start = std::chrono::steady_clock::now();
  std::thread changer([&] {
    if (flags.rate <= 0) return;
    const auto period = std::chrono::nanoseconds(std::llround(1e9 / flags.rate));
    auto next = std::chrono::steady_clock::now();
    const auto names = engine.replicated_service_names();
    std::vector<std::uint64_t> replicas(names.size(), flags.tasks_per_service);
    std::uint64_t serial = 0;
    while (!stop_changes.load()) {
      next += period;
      std::this_thread::sleep_until(next);
      if (flags.changes == "churn" || names.empty()) {
        engine.churn_once();
      } else {
        // Walk the services with a stride, so consecutive changes hit different services.
        const std::size_t i = (serial * 7919) % names.size();
        if (serial++ % 2 == 0) {
          const bool up = replicas[i] <= flags.tasks_per_service;
          replicas[i] = up ? replicas[i] + 1 : replicas[i] - 1;
          (void)engine.scale_service(names[i], replicas[i]);
        } else {
          (void)engine.fail_task_of(names[i]);
        }
      }
      changes_made.fetch_add(1);
      // After a stall, carry on at the rate rather than catching up in a burst.
      if (std::chrono::steady_clock::now() - next > 1s) next = std::chrono::steady_clock::now();
    }
  });
  std::int64_t cpu_prev = cpu_start;
  double peak = 0;
  for (int second = 1; second <= static_cast<int>(std::ceil(flags.duration_s)); ++second) {
    if (!sleep_unless_interrupted(phase_start + seconds(second) -
                                  std::chrono::steady_clock::now())) {
      break;
    }
    const std::int64_t cpu_now = read_cpu_ticks(pid);
    const double percent =
        100.0 * static_cast<double>(cpu_now - cpu_prev) / static_cast<double>(ticks_per_second);
    peak = std::max(peak, percent);
    cpu_prev = cpu_now;
    std::fprintf(stderr,
                 "sse_bench: t=%ds changes %llu, messages %llu, syncs %llu, server CPU %.0f%%\n",
                 second, static_cast<unsigned long long>(changes_made.load()),
                 static_cast<unsigned long long>(counters.messages.load()),
                 static_cast<unsigned long long>(counters.syncs.load()), percent);
  }
  stop_changes.store(true);
  changer.join();
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - phase_start).count();
  const std::int64_t cpu_end = read_cpu_ticks(pid);
  f.change_seconds = wall;
  f.changes_made = changes_made.load();
  f.server_cpu_percent = 100.0 * static_cast<double>(cpu_end - cpu_start) /
                         static_cast<double>(ticks_per_second) / wall;
  f.server_cpu_peak_percent = peak;
  f.client_cpu_percent = 100.0 * (self_cpu_seconds() - self_cpu_start) / wall;
  fleet.set_phase(Phase::kDraining);
  if (g_interrupted == 0) sleep_unless_interrupted(seconds(flags.drain_s));
  f.after_changes = read_memory(pid);
  f.interrupted = g_interrupted != 0;

  fleet.set_phase(Phase::kStopping);
  work.reset();
  io.stop();
  for (auto& t : client_threads) t.join();
  print_summary(flags, counters, f, fleet.streams());
  std::fflush(stdout);
  server.terminate();
  engine.stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Flags flags;
    int exit_code = 0;
    if (!parse_flags(argc, argv, flags, exit_code)) return exit_code;
    return run(flags);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sse_bench: %s\n", e.what());
    return 1;
  }
}
