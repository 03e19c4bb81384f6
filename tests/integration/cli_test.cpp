// The narwhal binary's command line: bad configuration is one line naming the setting and exit
// code 2, before anything starts; --help and --version exit 0.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace {

struct Outcome {
  int code = -1;
  std::string output;  // stdout and stderr
};

Outcome run(const std::string& args) {
  const char* bin = std::getenv("NARWHAL_BIN");
  REQUIRE_MESSAGE(bin != nullptr, "NARWHAL_BIN must name the narwhal binary");
  const std::string cmd = std::string(bin) + " " + args + " 2>&1";
  Outcome out;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), static_cast<int>(buf.size()), p) != nullptr)
    out.output += buf.data();
  const int status = ::pclose(p);
  out.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

int lines(const std::string& s) {
  int n = 0;
  for (const char c : s) n += c == '\n' ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("bad configuration: one line naming the setting, exit code 2") {
  for (const auto& [args, setting] : std::vector<std::pair<std::string, std::string>>{
           {"--listen 127.0.0.1:99999", "--listen"},
           {"--sse-batch-interval 10x", "--sse-batch-interval"},
           {"--log-level loud", "--log-level"},
           {"--docker-host ftp://x", "--docker-host"},
           {"--tls-cert /nonexistent.pem --tls-key /nonexistent.key", "--tls-"},
           {"--no-such-option", "--no-such-option"},
           {"--config /nonexistent/narwhal.toml", "/nonexistent/narwhal.toml"}}) {
    CAPTURE(args);
    const auto out = run(args);
    CHECK(out.code == 2);
    CHECK(lines(out.output) == 1);
    CHECK(out.output.find(setting) != std::string::npos);
  }
}

TEST_CASE("a bad environment variable is named too") {
  const char* bin = std::getenv("NARWHAL_BIN");
  REQUIRE(bin != nullptr);
  const std::string cmd = "NARWHAL_HISTORY_SIZE=lots " + std::string(bin) + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string output;
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), static_cast<int>(buf.size()), p) != nullptr) output += buf.data();
  const int status = ::pclose(p);
  CHECK(WEXITSTATUS(status) == 2);
  CHECK(output.find("NARWHAL_HISTORY_SIZE") != std::string::npos);
}

TEST_CASE("--help lists the options and exits 0; --version too") {
  const auto help = run("--help");
  CHECK(help.code == 0);
  for (const char* flag : {"--listen", "--docker-host", "--base-path", "--demo", "--log-format"}) {
    CHECK(help.output.find(flag) != std::string::npos);
  }
  const auto version = run("--version");
  CHECK(version.code == 0);
  CHECK(version.output.find("narwhal") != std::string::npos);
}
