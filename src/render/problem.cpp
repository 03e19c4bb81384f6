#include "narwhal/render/problem.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "narwhal/util/text.hpp"

namespace narwhal::render {

const std::vector<ErrorCode>& error_registry() {
  static const std::vector<ErrorCode> kCodes{
      {"API001", 406, "Not a streaming resource",
       "Server-Sent Events were asked of a URL that does not stream.",
       "Ask for application/json, or open the stream on a list or detail URL."},
      {"API002", 405, "Method not allowed", "narwhal is read-only: only GET, HEAD and OPTIONS.",
       "Use GET or HEAD."},
      {"API003", 406, "Not acceptable",
       "None of the media types in Accept (or the path extension) is offered by this URL.",
       "Send Accept: application/json, or one of the types the detail lists."},
      {"API004", 404, "No such resource", "The path names no resource of this server.",
       "Check the URL against /api."},
      {"API005", 431, "Request header fields too large",
       "The request line and headers are over the server's limit.",
       "Send fewer or shorter headers (cookies are the usual cause)."},
      {"API006", 400, "Bad query parameter", "A query parameter has a value the server cannot use.",
       "Correct the parameter as the detail says."},
      {"API007", 400, "Bad request", "The request is not valid HTTP or its target is malformed.",
       "Check the request line and percent-encoding."},
      {"API008", 500, "Internal error", "narwhal failed to answer because of a bug of its own.",
       "Retry; if it persists, report it with the requestId."},
      {"API010", 416, "Range not satisfiable",
       "The Range header asks for items past the end of the list.",
       "Read Content-Range for the number of items, or drop the Range header."},
      {"API011", 404, "Unknown error code", "The error registry has no code of that name.",
       "See /api/errors for every code narwhal answers with."},
      {"API012", 503, "Too many connections",
       "narwhal serves as many connections as it is configured (or its file descriptor limit "
       "allows) to; this one came in over the cap. /-/health, /-/ready and /-/metrics are still "
       "answered.",
       "Retry after the seconds in Retry-After; reuse keep-alive connections instead of opening "
       "new ones, or raise --max-connections and the process's descriptor limit."},
      {"API013", 408, "Request timeout",
       "The request line and headers did not arrive within the server's header timeout "
       "(--header-timeout for a new connection, --idle-timeout between requests).",
       "Send the whole request head at once; a slow or stalled client is cut off."},
      {"API014", 503, "Busy rendering",
       "Answers that need rendering, filtering, sorting or compressing run on a pool of render "
       "threads apart from the ones that read and write; as many requests as --render-queue "
       "allows already wait for one. Cached answers, /-/ probes and event streams are not "
       "affected.",
       "Retry after the seconds in Retry-After; ask for smaller pages or fewer distinct "
       "queries, or raise --render-threads and --render-queue."},
      {"ENG001", 503, "Engine not ready",
       "narwhal has not completed a full sync with the Docker engine, or lost it longer than "
       "the grace period ago.",
       "Check the engine address and that it is a swarm manager; /cluster shows the last error."},
      {"ENG002", 503, "Engine is not a swarm manager",
       "The Docker engine answers, but it is not a manager of a swarm (it left the swarm, is a "
       "worker, or never joined one), so narwhal cannot read the swarm's state. Data already "
       "read is still served, marked stale.",
       "Point narwhal at a manager (--docker-host), or make this node one (docker swarm init, "
       "docker swarm join --token <manager token>, docker node promote)."},
      {"FLT001", 400, "Filter too long",
       "The filter expression is over the configured length limit.",
       "Shorten the expression, or split the question into several requests."},
      {"FLT002", 400, "Invalid filter",
       "The filter expression does not compile: a syntax error, an unknown field, a type "
       "mismatch, a bad regular expression, or nesting or a list over the limits.",
       "Fix the expression at the column the detail names; /api lists the fields of each type."},
      {"SEA001", 400, "Search text missing",
       "/search needs the text to look for in its q parameter.",
       "Add ?q= with part of a name, e.g. /search?q=web."},
      {"SEA002", 400, "Search text too long", "The search text is over the configured limit.",
       "Shorten the search text."},
      {"SSE001", 429, "Too many streams",
       "The server holds as many event streams as it is configured to allow.",
       "Retry after the number of seconds in Retry-After, or close streams you no longer read."},
      {"NOD001", 409, "Ambiguous node", "The ID prefix or name matches more than one node.",
       "Use one of the candidates' full IDs."},
      {"NOD002", 404, "Node not found", "No node has this ID, ID prefix or hostname.",
       "List /nodes to find it."},
      {"SVC001", 409, "Ambiguous service", "The ID prefix or name matches more than one service.",
       "Use one of the candidates' full IDs."},
      {"SVC002", 404, "Service not found", "No service has this ID, ID prefix or name.",
       "List /services to find it."},
      {"TSK001", 409, "Ambiguous task",
       "The ID prefix or name (such as web.1, which replaced tasks share) matches more than one "
       "task.",
       "Use one of the candidates' full IDs."},
      {"TSK002", 404, "Task not found", "No task has this ID, ID prefix or name.",
       "List /tasks to find it; tasks of removed services disappear."},
      {"STK002", 404, "Stack not found", "No service carries this stack namespace.",
       "List /stacks to find it."},
      {"CFG001", 409, "Ambiguous config", "The ID prefix or name matches more than one config.",
       "Use one of the candidates' full IDs."},
      {"CFG002", 404, "Config not found", "No config has this ID, ID prefix or name.",
       "List /configs to find it."},
      {"SEC001", 409, "Ambiguous secret", "The ID prefix or name matches more than one secret.",
       "Use one of the candidates' full IDs."},
      {"SEC002", 404, "Secret not found", "No secret has this ID, ID prefix or name.",
       "List /secrets to find it."},
      {"NET001", 409, "Ambiguous network", "The ID prefix or name matches more than one network.",
       "Use one of the candidates' full IDs."},
      {"NET002", 404, "Network not found", "No network has this ID, ID prefix or name.",
       "List /networks to find it."},
      {"VOL002", 404, "Volume not found", "No volume has this name.", "List /volumes to find it."},
  };
  return kCodes;
}

const ErrorCode& error_code(std::string_view code) {
  const auto& codes = error_registry();
  const auto it =
      std::find_if(codes.begin(), codes.end(), [&](const ErrorCode& c) { return c.code == code; });
  if (it == codes.end()) {
    std::fprintf(stderr, "%s:%d: unregistered error code %.*s\n", __FILE__, __LINE__,
                 static_cast<int>(code.size()), code.data());
    std::abort();
  }
  return *it;
}

std::string render_problem(const Problem& p, std::string_view instance, std::string_view request_id,
                           std::string_view base_path) {
  const ErrorCode& c = error_code(p.code);
  std::string out;
  out.reserve(256 + p.detail.size());
  out += "{\"@context\":";
  util::append_json_string(out, std::string(base_path) + "/api/context.jsonld");
  out += ",\"type\":";
  util::append_json_string(out, std::string(base_path) + "/api/errors/" + p.code);
  out += ",\"title\":";
  util::append_json_string(out, c.title);
  out += ",\"status\":" + std::to_string(c.status);
  out += ",\"detail\":";
  util::append_json_string(out, p.detail);
  out += ",\"instance\":";
  util::append_json_string(out, instance);
  out += ",\"requestId\":";
  util::append_json_string(out, request_id);
  out += ",\"code\":";
  util::append_json_string(out, p.code);
  if (!p.candidates.empty()) {
    out += ",\"candidates\":[";
    for (std::size_t i = 0; i < p.candidates.size(); ++i) {
      if (i > 0) out.push_back(',');
      util::append_json_string(out, p.candidates[i]);
    }
    out.push_back(']');
  }
  out.push_back('}');
  return out;
}

}  // namespace narwhal::render
