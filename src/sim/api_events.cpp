// GET /events: one chunk per event, forever (or until `until`), cut without the final chunk when
// the engine stops or drops its streams, and closed when the client has gone away.
#include <array>
#include <charconv>
#include <memory>
#include <optional>

#include "api.hpp"

namespace narwhal::sim {

namespace {

// Short enough for stop() and drop_event_streams() to be prompt even if a wakeup is missed, and
// how often a stream with nothing to send looks whether its client is still there.
constexpr std::chrono::milliseconds kPoll{200};

// Whether the client of a stream has hung up. httplib before 0.12 notices that only when a write
// fails, and a still swarm (or a filter nothing matches) never writes: the socket would stay open
// and the stream would hold its worker forever. 0.12 removed DataSink::is_writable and checks the
// socket itself before each call of the provider.
template <class Sink>
bool client_gone(Sink& sink) {
  if constexpr (requires { sink.is_writable(); }) {
    return !sink.is_writable();
  } else {
    return false;
  }
}

// Malformed lines for the events_garbage fault: cut JSON, not JSON, JSON of the wrong shape.
constexpr std::array<std::string_view, 3> kGarbage = {
    "{\"Type\":\"container\",\"Action\":\"sta\n",
    "\x01\x02 this is not json\n",
    "{\"Type\":42,\"Actor\":{\"ID\":[],\"Attributes\":\"x\"},\"timeNano\":\"soon\"}\n",
};

// Unix seconds with an optional fraction ("1795342294.885099493"), as `docker events` sends.
std::optional<Nanos> parse_timestamp(std::string_view s) {
  const auto dot = s.find('.');
  const std::string_view whole = s.substr(0, dot);
  std::int64_t seconds = 0;
  auto [end, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), seconds);
  if (ec != std::errc() || end != whole.data() + whole.size() || whole.empty()) return std::nullopt;
  Nanos nanos = 0;
  if (dot != std::string_view::npos) {
    std::string fraction(s.substr(dot + 1));
    if (fraction.empty() || fraction.size() > 9) return std::nullopt;
    fraction.resize(9, '0');
    auto [fend, fec] = std::from_chars(fraction.data(), fraction.data() + 9, nanos);
    if (fec != std::errc() || fend != fraction.data() + 9) return std::nullopt;
  }
  return seconds * kNanosPerSecond + nanos;
}

struct EventStream {
  EventBus::Subscription sub;
  Filters filters;
  std::optional<Nanos> until;
  std::size_t garbage = 0;
};

}  // namespace

void Api::stream_events(const httplib::Request& req, httplib::Response& res) {
  auto stream = std::make_shared<EventStream>();
  if (auto error = Filters::parse(req.get_param_value("filters"), stream->filters)) {
    const Reply r = error_reply(500, *error);
    res.status = r.status;
    res.set_content(r.body, r.content_type);
    return;
  }
  std::optional<Nanos> since;
  for (const char* key : {"since", "until"}) {
    if (!req.has_param(key)) continue;
    const std::string value = req.get_param_value(key);
    auto t = parse_timestamp(value);
    if (!t) {
      const Reply r =
          error_reply(400, "failed to parse value as time or duration: \"" + value + "\"");
      res.status = r.status;
      res.set_content(r.body, r.content_type);
      return;
    }
    (key[0] == 's' ? since : stream->until) = t;
  }
  stream->sub = ctx_.bus.subscribe(since);

  Context& ctx = ctx_;
  res.set_chunked_content_provider("application/json", [&ctx, stream](std::size_t,
                                                                      httplib::DataSink& sink) {
    if (client_gone(sink)) return false;  // the client hung up: httplib closes the socket
    std::vector<EventPtr> batch;
    ctx.faults.wait_while_frozen();
    if (!stream->sub.replay.empty()) {
      batch.swap(stream->sub.replay);
    } else {
      auto wait = kPoll;
      if (stream->until) {
        const Nanos left = *stream->until - now_nanos();
        wait = std::min(wait, std::chrono::milliseconds(std::max<Nanos>(left / kNanosPerMilli, 0)));
      }
      auto next = ctx.bus.next(stream->sub.cursor, wait);
      // Returning false makes httplib close the socket without the final 0-chunk.
      if (next.ended) return false;
      batch = std::move(next.events);
    }
    for (const auto& e : batch) {
      if (stream->until && e->event.time > *stream->until) {
        sink.done();
        return true;
      }
      if (!stream->filters.matches_event(e->event)) continue;
      if (!sink.write(e->line.data(), e->line.size())) return false;
      if (ctx.faults.get().events_garbage) {
        const auto junk = kGarbage[stream->garbage++ % kGarbage.size()];
        if (!sink.write(junk.data(), junk.size())) return false;
      }
    }
    if (stream->until && now_nanos() > *stream->until) sink.done();
    return true;
  });
}

}  // namespace narwhal::sim
