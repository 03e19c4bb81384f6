// The Engine API routes the simulator serves, over httplib. Handlers copy what they need from the
// model under its mutex and write to the socket after releasing it.
#pragma once

#include <httplib.h>

#include <string>
#include <string_view>

#include "context.hpp"
#include "filters.hpp"

namespace narwhal::sim {

struct Reply {
  int status = 200;
  std::string body;
  bool data = false;  // a list or inspect body: the garbage fault may mangle it
  std::string content_type = "application/json";
};

// {"message": ...} with `status`, as dockerd answers every error.
[[nodiscard]] Reply error_reply(int status, std::string_view message);

class Api {
 public:
  explicit Api(Context& ctx) : ctx_(ctx) {}

  // The one handler behind every method and path.
  void handle(const httplib::Request& req, httplib::Response& res);

 private:
  Reply route(const httplib::Request& req, std::string_view path);
  Reply list(std::string_view kind, const httplib::Request& req);
  Reply inspect(std::string_view kind, std::string_view ref);
  Reply list_services(const Filters& filters, bool status);
  Reply list_tasks(Filters filters);
  void stream_events(const httplib::Request& req, httplib::Response& res);

  Context& ctx_;
};

}  // namespace narwhal::sim
