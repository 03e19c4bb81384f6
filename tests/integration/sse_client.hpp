// A small blocking Server-Sent Events client for the integration tests: one GET over a plain TCP
// socket with Accept: text/event-stream, the response head, chunked transfer decoding and the SSE
// wire format (SPEC §8). No reader thread: the test reads with read_for()/wait_for(), so every wait
// is bounded and nothing runs behind its back. Batches are flattened into single events that
// remember their frame. Nothing here asserts: protocol violations are collected in errors().
#pragma once

#include <rapidjson/document.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace narwhal::itest {

// One SSE message as it came on the wire (the lines up to a blank line).
struct SseFrame {
  std::optional<std::string> id;      // the `id:` field, when the frame has one
  std::string event;                  // the `event:` field ("" when absent)
  std::string data;                   // `data:` lines joined by "\n"
  bool has_data = false;              // a frame with no data line is not an event (e.g. retry)
  std::optional<std::int64_t> retry;  // `retry:` in milliseconds
  std::vector<std::string> comments;  // `:keepalive` → "keepalive"
};

// One event, batches flattened: a batch frame gives one SseEvent per element of its array.
struct SseEvent {
  std::size_t frame = 0;       // index into SseClient::frames()
  std::string frame_event;     // the frame's `event:` ("service", "batch", "sync", …)
  std::uint64_t frame_id = 0;  // the frame's ID (a batch's: its last event's); 0 = none
  std::size_t index_in_frame = 0;
  // From the payload: "type" (the frame's event name when the payload has none, as for cluster),
  // "action", "id", "name", "summary", "time".
  std::string type, action, id, name, summary, time;
  std::shared_ptr<const rapidjson::Document> doc;          // the frame's parsed data
  const rapidjson::Value* payload = nullptr;               // this event's object inside doc
  [[nodiscard]] const rapidjson::Value* resource() const;  // null when absent (remove)
  // "service update 1a2b3c… (web) #1234" — for failure messages.
  [[nodiscard]] std::string describe() const;
};

class SseClient {
 public:
  SseClient(std::string host, std::uint16_t port) : host_(std::move(host)), port_(port) {}
  SseClient(const SseClient&) = delete;
  SseClient& operator=(const SseClient&) = delete;
  ~SseClient();

  // Connects, sends `GET path` with Accept: text/event-stream and `headers`, and reads the
  // response head within `budget`. Empty on success (whatever the status), else why not. A reply
  // that is not a stream is read whole into body().
  [[nodiscard]] std::string open(const std::string& path,
                                 const std::multimap<std::string, std::string>& headers = {},
                                 std::chrono::milliseconds budget = std::chrono::seconds(5));
  // Closes the connection (the server sees the client leave).
  void close();

  [[nodiscard]] int status() const { return status_; }
  [[nodiscard]] std::string header(const std::string& name) const;  // "" when absent
  [[nodiscard]] const std::string& body() const { return body_; }
  [[nodiscard]] const std::string& path() const { return path_; }

  // Reads and parses whatever arrives during `d`. False once the stream has ended (see ended()).
  bool read_for(std::chrono::milliseconds d);
  // Reads what has arrived until nothing more comes for `quiet` (before checking what a stream
  // did not get). False once the stream has ended.
  bool drain(std::chrono::milliseconds quiet = std::chrono::milliseconds(100));
  // Reads until pred() holds, the budget is spent or the stream ends; returns pred()'s last value.
  // pred is checked before reading, so events already received count.
  bool wait_for(std::chrono::milliseconds budget, const std::function<bool()>& pred);
  // wait_for an event that satisfies pred; the first such event, or null.
  const SseEvent* wait_for_event(std::chrono::milliseconds budget,
                                 const std::function<bool(const SseEvent&)>& pred);

  [[nodiscard]] const std::vector<SseFrame>& frames() const { return frames_; }
  [[nodiscard]] const std::vector<SseEvent>& events() const { return events_; }
  // The first event that satisfies pred, or null.
  [[nodiscard]] const SseEvent* find(const std::function<bool(const SseEvent&)>& pred) const;
  // The last `id:` seen (what an EventSource would send as Last-Event-ID), "" before any.
  [[nodiscard]] const std::string& last_event_id() const { return last_event_id_; }
  [[nodiscard]] bool ended() const { return ended_; }
  [[nodiscard]] const std::string& end_reason() const { return end_reason_; }
  // Violations of HTTP chunking or of the event format (unparsable JSON, batch not an array…).
  [[nodiscard]] const std::vector<std::string>& errors() const { return errors_; }

  // "GET /services -> 200, 7 frames, ended: …; events: [service create abc (web) #12, …]".
  [[nodiscard]] std::string describe(std::size_t max_events = 40) const;

 private:
  void fail(std::string why);
  // Moves decoded bytes from raw_ into text_ (chunked or not), then frames out of text_.
  void decode();
  void parse_lines();
  void dispatch();
  void add_events(std::size_t frame_index);
  bool read_some(int timeout_ms);
  void reset();

  std::string host_;
  std::uint16_t port_;
  int fd_ = -1;
  std::string path_;
  int status_ = 0;
  std::multimap<std::string, std::string> headers_;
  std::string body_;
  bool chunked_ = false;
  bool streaming_ = false;                 // a 200 text/event-stream: the body is parsed as events
  std::string raw_;                        // bytes read but not yet decoded
  std::string text_;                       // decoded body not yet split into lines
  std::optional<std::size_t> chunk_left_;  // bytes left in the current chunk; none = size line
  bool chunk_crlf_ = false;                // the CRLF after a chunk's data is due
  SseFrame current_;
  bool current_touched_ = false;
  std::vector<SseFrame> frames_;
  std::vector<SseEvent> events_;
  std::string last_event_id_;
  bool ended_ = false;
  std::string end_reason_;
  std::vector<std::string> errors_;
};

}  // namespace narwhal::itest
