#include "sse_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace narwhal::itest {

namespace {

using Clock = std::chrono::steady_clock;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string string_member(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return {};
  const auto it = v.FindMember(name);
  if (it == v.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

int millis_until(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 200));
}

std::string shorten(const std::string& s, std::size_t n) {
  return s.size() <= n ? s : s.substr(0, n) + "…";
}

}  // namespace

// ---- SseEvent ----

const rapidjson::Value* SseEvent::resource() const {
  if (payload == nullptr || !payload->IsObject()) return nullptr;
  const auto it = payload->FindMember("resource");
  return it == payload->MemberEnd() ? nullptr : &it->value;
}

std::string SseEvent::describe() const {
  std::string s = type + " " + action;
  if (!id.empty()) s += " " + shorten(id, 12);
  if (!name.empty()) s += " (" + name + ")";
  if (!summary.empty()) s += " \"" + shorten(summary, 60) + "\"";
  s += " #" + std::to_string(frame_id);
  if (frame_event == "batch") s += " in batch";
  return s;
}

// ---- SseClient ----

SseClient::~SseClient() {
  close();
}

void SseClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void SseClient::reset() {
  close();
  status_ = 0;
  headers_.clear();
  body_.clear();
  chunked_ = streaming_ = false;
  raw_.clear();
  text_.clear();
  chunk_left_.reset();
  chunk_crlf_ = false;
  current_ = {};
  current_touched_ = false;
  frames_.clear();
  events_.clear();
  last_event_id_.clear();
  ended_ = false;
  end_reason_.clear();
  errors_.clear();
}

std::string SseClient::open(const std::string& path,
                            const std::multimap<std::string, std::string>& headers,
                            std::chrono::milliseconds budget) {
  reset();
  path_ = path;
  const auto deadline = Clock::now() + budget;
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return std::string("socket: ") + std::strerror(errno);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port_);
  if (inet_pton(AF_INET, host_.c_str(), &addr.sin_addr) != 1)
    return "not an IPv4 address: " + host_;
  // sockaddr_in → sockaddr is how the sockets API is specified; no cast-free spelling exists.
  if (connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return "connect to " + host_ + ":" + std::to_string(port_) + ": " + std::strerror(errno);
  }

  std::string request =
      "GET " + path + " HTTP/1.1\r\nHost: " + host_ + ":" + std::to_string(port_) + "\r\n";
  const bool own_accept = std::any_of(headers.begin(), headers.end(),
                                      [](const auto& h) { return iequals(h.first, "Accept"); });
  if (!own_accept) request += "Accept: text/event-stream\r\n";
  for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
  request += "\r\n";
  for (std::size_t sent = 0; sent < request.size();) {
    const ssize_t n = send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::string("send: ") + std::strerror(errno);
    sent += static_cast<std::size_t>(n);
  }

  // The head, then whatever of the body came with it.
  std::size_t head_end = std::string::npos;
  while ((head_end = raw_.find("\r\n\r\n")) == std::string::npos) {
    if (ended_) return "no response head: " + end_reason_ + "; got: " + shorten(raw_, 300);
    if (Clock::now() >= deadline) {
      return "no response head within " + std::to_string(budget.count()) +
             " ms; got: " + shorten(raw_, 300);
    }
    read_some(millis_until(deadline));
  }
  const std::string head = raw_.substr(0, head_end);
  raw_.erase(0, head_end + 4);
  std::size_t line_end = head.find("\r\n");
  const std::string status_line = head.substr(0, line_end);
  if (status_line.rfind("HTTP/1.1 ", 0) != 0 || status_line.size() < 12) {
    return "not an HTTP/1.1 status line: " + shorten(status_line, 200);
  }
  status_ = std::atoi(status_line.c_str() + 9);
  while (line_end != std::string::npos) {
    const std::size_t start = line_end + 2;
    line_end = head.find("\r\n", start);
    const std::string line =
        head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
    headers_.emplace(line.substr(0, colon), std::move(value));
  }
  chunked_ = header("Transfer-Encoding").find("chunked") != std::string::npos;
  streaming_ = status_ == 200 && header("Content-Type").rfind("text/event-stream", 0) == 0;
  if (streaming_) {
    if (!chunked_) fail("an event stream without Transfer-Encoding: chunked");
    decode();
    return {};
  }

  // Not a stream: read the whole body.
  const std::string length = header("Content-Length");
  const std::size_t want = length.empty() ? 0 : std::strtoull(length.c_str(), nullptr, 10);
  auto complete = [&] {
    if (chunked_) return ended_;
    if (!length.empty()) return raw_.size() >= want;
    return ended_;  // delimited by the connection's end
  };
  decode();
  while (!complete() && !ended_ && Clock::now() < deadline) {
    read_some(millis_until(deadline));
    decode();
  }
  if (!chunked_) body_ = length.empty() ? raw_ : raw_.substr(0, want);
  if (!complete())
    return "the body did not arrive within " + std::to_string(budget.count()) + " ms";
  return {};
}

std::string SseClient::header(const std::string& name) const {
  for (const auto& [k, v] : headers_) {
    if (iequals(k, name)) return v;
  }
  return {};
}

void SseClient::fail(std::string why) {
  if (errors_.size() < 50) errors_.push_back(std::move(why));
}

bool SseClient::read_some(int timeout_ms) {
  if (fd_ < 0 || ended_) {
    if (!ended_) {
      ended_ = true;
      end_reason_ = "not connected";
    }
    return false;
  }
  pollfd p{fd_, POLLIN, 0};
  const int ready = poll(&p, 1, timeout_ms);
  if (ready <= 0) return false;
  std::array<char, 65536> buf{};
  const ssize_t n = recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
  if (n > 0) {
    raw_.append(buf.data(), static_cast<std::size_t>(n));
    if (status_ != 0) decode();
    return true;
  }
  if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) return false;
  ended_ = true;
  end_reason_ =
      n == 0 ? "the server closed the connection" : std::string("recv: ") + std::strerror(errno);
  if (streaming_ && n == 0) end_reason_ += " without the final 0-chunk";
  return false;
}

void SseClient::decode() {
  if (!chunked_) {
    if (streaming_) {
      text_ += raw_;
      raw_.clear();
      parse_lines();
    }
    return;
  }
  for (;;) {
    if (chunk_crlf_) {
      if (raw_.size() < 2) break;
      if (raw_.compare(0, 2, "\r\n") != 0) {
        fail("chunk data not followed by CRLF: " + shorten(raw_, 40));
        ended_ = true;
        end_reason_ = "broken chunked encoding";
        break;
      }
      raw_.erase(0, 2);
      chunk_crlf_ = false;
    }
    if (!chunk_left_) {
      const auto eol = raw_.find("\r\n");
      if (eol == std::string::npos) break;
      const std::string size_line = raw_.substr(0, eol);
      raw_.erase(0, eol + 2);
      char* end = nullptr;
      const auto size = std::strtoull(size_line.c_str(), &end, 16);
      if (end == size_line.c_str() || (*end != '\0' && *end != ';')) {
        fail("bad chunk size line: " + shorten(size_line, 40));
        ended_ = true;
        end_reason_ = "broken chunked encoding";
        break;
      }
      if (size == 0) {
        ended_ = true;
        end_reason_ = "the server ended the body (0-chunk)";
        break;
      }
      chunk_left_ = size;
    }
    const std::size_t n = std::min(*chunk_left_, raw_.size());
    if (n == 0) break;
    (streaming_ ? text_ : body_).append(raw_, 0, n);
    raw_.erase(0, n);
    *chunk_left_ -= n;
    if (*chunk_left_ == 0) {
      chunk_left_.reset();
      chunk_crlf_ = true;
    }
  }
  if (streaming_) parse_lines();
}

void SseClient::parse_lines() {
  std::size_t pos = 0;
  for (;;) {
    const auto eol = text_.find_first_of("\r\n", pos);
    if (eol == std::string::npos) break;
    std::size_t next = eol + 1;
    if (text_[eol] == '\r') {
      if (eol + 1 == text_.size()) break;  // a CR LF split across reads
      if (text_[eol + 1] == '\n') next = eol + 2;
    }
    const std::string_view line(text_.data() + pos, eol - pos);
    pos = next;
    if (line.empty()) {
      dispatch();
      continue;
    }
    current_touched_ = true;
    if (line.front() == ':') {
      std::string_view c = line.substr(1);
      if (!c.empty() && c.front() == ' ') c.remove_prefix(1);
      current_.comments.emplace_back(c);
      continue;
    }
    const auto colon = line.find(':');
    const std::string_view field = line.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (field == "data") {
      if (current_.has_data) current_.data += '\n';
      current_.data += value;
      current_.has_data = true;
    } else if (field == "event") {
      current_.event = value;
    } else if (field == "id") {
      current_.id = std::string(value);
      last_event_id_ = value;
    } else if (field == "retry") {
      const bool digits = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      });
      if (digits) {
        current_.retry = std::strtoll(std::string(value).c_str(), nullptr, 10);
      } else {
        fail("retry: is not a number: " + std::string(value));
      }
    } else {
      fail("unknown field in frame " + std::to_string(frames_.size()) + ": " +
           shorten(std::string(line), 80));
    }
  }
  text_.erase(0, pos);
}

void SseClient::dispatch() {
  if (!current_touched_) return;  // a blank line with nothing before it
  frames_.push_back(std::move(current_));
  current_ = {};
  current_touched_ = false;
  if (frames_.back().has_data) add_events(frames_.size() - 1);
}

void SseClient::add_events(std::size_t frame_index) {
  const SseFrame& f = frames_[frame_index];
  auto doc = std::make_shared<rapidjson::Document>();
  doc->Parse(f.data.data(), f.data.size());
  const std::string where = "frame " + std::to_string(frame_index) + " (event: " + f.event + ")";
  if (doc->HasParseError()) {
    fail(where + ": data is not JSON: " + shorten(f.data, 200));
    return;
  }
  std::uint64_t frame_id = 0;
  if (f.id) {
    char* end = nullptr;
    frame_id = std::strtoull(f.id->c_str(), &end, 10);
    if (f.id->empty() || *end != '\0') fail(where + ": id is not a number: " + *f.id);
  }
  std::vector<const rapidjson::Value*> payloads;
  if (f.event == "batch") {
    if (!doc->IsArray()) {
      fail(where + ": a batch whose data is not a JSON array");
      return;
    }
    for (const auto& v : doc->GetArray()) payloads.push_back(&v);
  } else {
    payloads.push_back(doc.get());
  }
  const std::shared_ptr<const rapidjson::Document> shared = doc;
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    const auto& v = *payloads[i];
    if (!v.IsObject()) {
      fail(where + ": element " + std::to_string(i) + " is not an object");
      continue;
    }
    SseEvent e;
    e.frame = frame_index;
    e.frame_event = f.event;
    e.frame_id = frame_id;
    e.index_in_frame = i;
    e.type = string_member(v, "type");
    if (e.type.empty()) e.type = f.event;  // the cluster summary has no "type"
    e.action = string_member(v, "action");
    e.id = string_member(v, "id");
    e.name = string_member(v, "name");
    e.summary = string_member(v, "summary");
    e.time = string_member(v, "time");
    e.doc = shared;
    e.payload = &v;
    events_.push_back(std::move(e));
  }
}

bool SseClient::read_for(std::chrono::milliseconds d) {
  const auto deadline = Clock::now() + d;
  while (!ended_ && Clock::now() < deadline) read_some(millis_until(deadline));
  return !ended_;
}

bool SseClient::drain(std::chrono::milliseconds quiet) {
  while (!ended_ && read_some(static_cast<int>(quiet.count()))) {
  }
  return !ended_;
}

bool SseClient::wait_for(std::chrono::milliseconds budget, const std::function<bool()>& pred) {
  const auto deadline = Clock::now() + budget;
  for (;;) {
    if (pred()) return true;
    if (ended_ || Clock::now() >= deadline) return false;
    read_some(millis_until(deadline));
  }
}

const SseEvent* SseClient::wait_for_event(std::chrono::milliseconds budget,
                                          const std::function<bool(const SseEvent&)>& pred) {
  const SseEvent* found = nullptr;
  (void)wait_for(budget, [&] { return (found = find(pred)) != nullptr; });
  return found;
}

const SseEvent* SseClient::find(const std::function<bool(const SseEvent&)>& pred) const {
  for (const auto& e : events_) {
    if (pred(e)) return &e;
  }
  return nullptr;
}

std::string SseClient::describe(std::size_t max_events) const {
  std::string s = "GET " + path_ + " -> " + std::to_string(status_) + ", " +
                  std::to_string(frames_.size()) + " frames, " + std::to_string(events_.size()) +
                  " events";
  if (ended_) s += ", ended: " + end_reason_;
  if (!body_.empty()) s += ", body: " + shorten(body_, 400);
  for (const auto& e : errors_) s += "\n  error: " + e;
  if (!events_.empty()) {
    s += "\n  events:";
    const std::size_t from = events_.size() > max_events ? events_.size() - max_events : 0;
    if (from > 0) s += " (" + std::to_string(from) + " earlier ones left out)";
    for (std::size_t i = from; i < events_.size(); ++i) s += "\n    " + events_[i].describe();
  }
  return s;
}

}  // namespace narwhal::itest
