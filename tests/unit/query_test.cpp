#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "../../src/query/filter_lexer.hpp"
#include "../../src/query/filter_parser.hpp"
#include "narwhal/query/filter.hpp"
#include "narwhal/query/list_query.hpp"
#include "narwhal/state/store.hpp"

using namespace narwhal;
using narwhal::query::compile_filter;
using narwhal::query::FilterCache;
using narwhal::query::FilterError;
using narwhal::query::FilterPtr;
using narwhal::state::Kind;
using narwhal::state::Object;
using narwhal::state::ObjectPtr;

namespace {

ObjectPtr parsed(Kind kind, const std::string& json) {
  auto p = state::parse_object(kind, json);
  REQUIRE_MESSAGE(p.object, p.error);
  return p.object;
}

std::string node_json(const std::string& id, const std::string& host, const std::string& role,
                      const std::string& st, const std::string& avail, bool leader,
                      const std::string& labels) {
  return R"({"ID":")" + id + R"(","Version":{"Index":1},"Spec":{"Role":")" + role +
         R"(","Availability":")" + avail + R"(","Labels":{)" + labels +
         R"(}},"Description":{"Hostname":")" + host +
         R"(","Engine":{"EngineVersion":"26.1.0"}},"Status":{"State":")" + st +
         R"(","Addr":"10.0.0.)" + id.substr(1) + R"("},"ManagerStatus":{"Leader":)" +
         (leader ? "true" : "false") + "}}";
}

std::string service_json(const std::string& id, const std::string& name, const std::string& stack,
                         const std::string& image, const std::string& mode) {
  const std::string labels =
      stack.empty() ? R"("tier":"frontend")"
                    : R"("tier":"frontend","com.docker.stack.namespace":")" + stack + "\"";
  return R"({"ID":")" + id + R"(","Version":{"Index":2},"Spec":{"Name":")" + name +
         R"(","Labels":{)" + labels + R"(},"TaskTemplate":{"ContainerSpec":{"Image":")" + image +
         R"("}},"Mode":)" + mode + "}}";
}

std::string task_json(const std::string& id, const std::string& svc, const std::string& node,
                      const std::string& slot, const std::string& st, const std::string& err,
                      const std::string& exit, const std::string& stack) {
  std::string cs = R"("ContainerID":"c)" + id + "\"";
  if (!exit.empty()) cs += R"(,"ExitCode":)" + exit;
  const std::string labels =
      stack.empty() ? "" : R"("com.docker.stack.namespace":")" + stack + "\"";
  return R"({"ID":")" + id + R"(","Version":{"Index":3},"ServiceID":")" + svc + R"(","NodeID":")" +
         node + "\"" + (slot.empty() ? "" : R"(,"Slot":)" + slot) +
         R"(,"Labels":{"env":"prod"},"Spec":{"ContainerSpec":{"Image":"nginx:1.25","Labels":{)" +
         labels + R"(}}},"Status":{"State":")" + st + R"(","Err":")" + err +
         R"(","ContainerStatus":{)" + cs + R"(}},"DesiredState":"running"})";
}

// A small swarm: 3 nodes, stack "shop" (2 services + one of each other kind), stack "big" with 6
// services, a global service, and tasks covering every nullable and cross-referenced field.
state::SnapshotPtr fixture() {
  state::Change c;
  auto& u = c.upserts;
  u.push_back(parsed(Kind::node, node_json("n1", "alpha", "manager", "ready", "active", true,
                                           R"("tier":"front")")));
  u.push_back(parsed(
      Kind::node, node_json("n2", "beta", "worker", "ready", "drain", false, R"("tier":"back")")));
  u.push_back(parsed(Kind::node, node_json("n3", "gamma", "worker", "down", "active", false, "")));
  u.push_back(parsed(Kind::service, service_json("s1", "web-1", "shop", "nginx:1.25",
                                                 R"({"Replicated":{"Replicas":3}})")));
  u.push_back(parsed(Kind::service, service_json("s2", "web-2", "", "nginx", R"({"Global":{}})")));
  u.push_back(parsed(Kind::service, service_json("s3", "db", "shop", "postgres:16",
                                                 R"({"Replicated":{"Replicas":1}})")));
  for (int i = 0; i < 6; ++i) {
    u.push_back(
        parsed(Kind::service, service_json("b" + std::to_string(i), "big_" + std::to_string(i),
                                           "big", "busybox", R"({"Global":{}})")));
  }
  u.push_back(parsed(Kind::task, task_json("t1", "s1", "n1", "1", "running", "", "", "shop")));
  u.push_back(parsed(Kind::task, task_json("t2", "s1", "n2", "2", "failed",
                                           "task: non-zero exit (137)", "137", "shop")));
  u.push_back(parsed(Kind::task, task_json("t3", "s2", "n1", "", "running", "", "", "")));
  u.push_back(parsed(Kind::task, task_json("t4", "s3", "n3", "1", "complete", "", "0", "")));
  u.push_back(parsed(Kind::task,
                     task_json("t5", "gone", "n9", "1", "rejected", "No such image: x", "", "")));
  const std::string shop = R"("Labels":{"com.docker.stack.namespace":"shop"})";
  u.push_back(parsed(Kind::config, R"({"ID":"c1","Spec":{"Name":"shop_cfg",)" + shop + "}}"));
  u.push_back(parsed(Kind::secret, R"({"ID":"x1","Spec":{"Name":"shop_key",)" + shop + "}}"));
  u.push_back(parsed(Kind::network, R"({"Id":"net1","Name":"shop_default","Driver":"overlay",)"
                                    R"("Scope":"swarm",)" +
                                        shop + "}"));
  u.push_back(parsed(Kind::network, R"({"Id":"net2","Name":"ingress","Driver":"overlay",)"
                                    R"("Scope":"swarm"})"));
  u.push_back(parsed(Kind::volume,
                     R"({"Name":"shop_data","Driver":"local","Scope":"local",)" + shop + "}"));
  state::Store store(100);
  (void)store.apply(c);
  return store.snapshot();
}

const state::SnapshotPtr& snap() {
  static const state::SnapshotPtr s = fixture();
  return s;
}

FilterPtr compiled(Kind kind, std::string_view text, std::size_t max_chars = 512) {
  auto r = compile_filter(kind, text, max_chars);
  REQUIRE_MESSAGE(r.has_value(), text << " → " << (r ? "" : r.error().detail));
  return *r;
}

FilterError failure(Kind kind, std::string_view text, std::size_t max_chars = 512) {
  auto r = compile_filter(kind, text, max_chars);
  REQUIRE_MESSAGE(!r.has_value(), text << " compiled");
  return r.error();
}

// The IDs (names for stacks) of the items of `kind` in the fixture that `text` selects.
std::vector<std::string> selected(Kind kind, std::string_view text) {
  const FilterPtr p = compiled(kind, text);
  std::vector<std::string> out;
  if (kind == Kind::stack) {
    for (const auto& st : *snap()->stacks) {
      if (p->matches(*snap(), st)) out.push_back(st.name);
    }
    return out;
  }
  for (const auto& o : snap()->table(kind).items) {
    if (p->matches(*snap(), *o)) out.push_back(o->id);
  }
  return out;
}

using Ids = std::vector<std::string>;

}  // namespace

// ---------------------------------------------------------------------------------------------
// Lexer

TEST_CASE("the lexer reads every token with its column") {
  using query::filter::Tok;
  query::filter::Lexer lex(R"(a>=1&&b!="x"||!c<=-2.5 ( ) [ ] , == < > 'y')");
  std::vector<std::pair<Tok, std::size_t>> got;
  while (true) {
    auto t = lex.next();
    REQUIRE(t.has_value());
    got.emplace_back(t->kind, t->column);
    if (t->kind == Tok::end) break;
  }
  const std::vector<std::pair<Tok, std::size_t>> want{
      {Tok::ident, 1},   {Tok::ge, 2},      {Tok::number, 4},    {Tok::and_, 5},
      {Tok::ident, 7},   {Tok::ne, 8},      {Tok::string, 10},   {Tok::or_, 13},
      {Tok::bang, 15},   {Tok::ident, 16},  {Tok::le, 17},       {Tok::number, 19},
      {Tok::lparen, 24}, {Tok::rparen, 26}, {Tok::lbracket, 28}, {Tok::rbracket, 30},
      {Tok::comma, 32},  {Tok::eq, 34},     {Tok::lt, 37},       {Tok::gt, 39},
      {Tok::string, 41}, {Tok::end, 44}};
  CHECK(got == want);
}

TEST_CASE("string literals decode escapes in either quote style") {
  auto one = [](std::string_view text) {
    query::filter::Lexer lex(text);
    auto t = lex.next();
    REQUIRE_MESSAGE(t.has_value(), (t ? "" : t.error().detail));
    return t->text;
  };
  CHECK(one(R"("a\"b\\c\n\t")") == "a\"b\\c\n\t");
  CHECK(one(R"('it\'s "x"')") == "it's \"x\"");
  CHECK(one(R"("\u00e9\u20ac")") == "\xc3\xa9\xe2\x82\xac");
  CHECK(one(R"("\ud83d\ude00")") == "\xf0\x9f\x98\x80");
  CHECK(one(R"("")").empty());
}

TEST_CASE("numbers are integers or decimals, negative allowed") {
  auto num = [](std::string_view text) {
    query::filter::Lexer lex(text);
    auto t = lex.next();
    REQUIRE(t.has_value());
    CHECK(t->kind == query::filter::Tok::number);
    return t->number;
  };
  CHECK(num("42") == 42);
  CHECK(num("-1") == -1);
  CHECK(num("2.5") == 2.5);
  CHECK(num("-0.25") == -0.25);
}

TEST_CASE("lexical errors name the problem and its column") {
  struct Case {
    std::string_view text;
    std::size_t column;
    std::string_view detail;
  };
  for (const Case& c : std::vector<Case>{
           {R"(state == "open)", 10, R"(unterminated string starting at column 10)"},
           {R"(state == "a\qb")", 12, R"(unknown escape "\\q" in a string at column 12)"},
           {R"(state == "\u12")", 11, R"(malformed \u escape at column 11)"},
           {R"(state == "\udc00")", 11, R"(unpaired surrogate in \u escape at column 11)"},
           {"slot == 12abc", 9, R"(malformed number "12abc" at column 9)"},
           {"slot == 1.", 9, R"(malformed number "1." at column 9)"},
           {R"(state = "x")", 7, R"(unexpected "=" at column 7; did you mean "=="?)"},
           {"leader & leader", 8, R"(unexpected "&" at column 8; did you mean "&&"?)"},
           {"leader | leader", 8, R"(unexpected "|" at column 8; did you mean "||"?)"},
           {"state # 1", 7, R"(unexpected character "#" at column 7)"},
       }) {
    CAPTURE(c.text);
    const auto e = failure(Kind::task, c.text);
    CHECK(e.code == "FLT002");
    CHECK(e.column == c.column);
    CHECK(e.detail.starts_with(c.detail));
  }
}

// ---------------------------------------------------------------------------------------------
// Parser

TEST_CASE("the parser builds n-ary chains with the usual precedence") {
  using query::filter::Syntax;
  auto tree = query::filter::parse_filter("a || b && c and d or not e in [1, 2]");
  REQUIRE(tree.has_value());
  const auto& root = tree->nodes[tree->root];
  CHECK(root.kind == Syntax::any);
  REQUIRE(root.children.size() == 3);
  const auto& mid = tree->nodes[root.children[1]];
  CHECK(mid.kind == Syntax::all);
  CHECK(mid.children.size() == 3);
  const auto& last = tree->nodes[root.children[2]];
  CHECK(last.kind == Syntax::negate);
  CHECK(tree->nodes[last.children[0]].kind == Syntax::in);

  auto idx = query::filter::parse_filter(R"(labels["com.example.tier"] not in ['a'])");
  REQUIRE(idx.has_value());
  const auto& in = idx->nodes[idx->root];
  CHECK(in.kind == Syntax::in);
  CHECK(in.negated);
  CHECK(idx->nodes[in.children[0]].key == "com.example.tier");
}

TEST_CASE("syntax errors name the problem and its column") {
  struct Case {
    std::string_view text;
    std::size_t column;
    std::string_view detail;
  };
  for (
      const Case& c : std::vector<Case>{
          {"", 1, "the filter is empty at column 1"},
          {"   ", 1, "the filter is empty at column 1"},
          {R"(state == "x" ))", 14, R"x(unexpected ")" at column 14 after a complete condition)x"},
          {R"(state == "x" AND leader)", 14,
           R"(unexpected "AND" at column 14 after a complete condition; did you mean "and"?)"},
          {R"((state == "x")", 14,
           R"x(expected ")" to close the "(" at column 1, but found the end of the filter at column 14)x"},
          {"state ==", 9, "expected a field, a value or \"(\" at column 9 but found the end"},
          {"state == and", 10,
           R"(expected a field, a value or "(" at column 10 but found the keyword "and")"},
          {R"(state == "a" == "b")", 14, R"(comparisons do not chain: "==" at column 14)"},
          {R"(state in "x")", 10, R"(expected a list like ["a", "b"] after "in" at column 10)"},
          {R"(state not "x")", 11, R"(expected "in" after "not" at column 11)"},
          {R"(state in ["a" "b"])", 15,
           R"(expected "," or "]" in the list opened at column 10, but found "\"b\"" at column 15)"},
          {R"(state in ["a",])", 15,
           R"(expected a field, a value or "(" at column 15 but found "]")"},
          {R"(labels[tier] == "x")", 8, R"(expected a string key in labels[...] at column 8)"},
          {R"(labels["tier" == "x")", 15,
           R"(expected "]" after the key of labels[...] at column 15)"},
      }) {
    CAPTURE(c.text);
    const auto e = failure(Kind::task, c.text);
    CHECK(e.code == "FLT002");
    CHECK(e.column == c.column);
    CHECK(e.detail.starts_with(c.detail));
  }
}

// ---------------------------------------------------------------------------------------------
// Checker

TEST_CASE("static checks name the problem and its column") {
  struct Case {
    Kind kind;
    std::string_view text;
    std::size_t column;
    std::string_view detail;
  };
  for (
      const Case& c : std::vector<Case>{
          {Kind::task, R"(stat == "running")", 1,
           R"(unknown field "stat" at column 1; did you mean "state"?)"},
          {Kind::task, R"(State == "running")", 1,
           R"(unknown field "State" at column 1; did you mean "state"?)"},
          {Kind::config, R"(xyz == "a")", 1,
           "unknown field \"xyz\" at column 1; configs have: id, name, stack, labels"},
          {Kind::task, R"(labels["a"] == "b" && bogus)", 23,
           R"(unknown field "bogus" at column 23)"},
          {Kind::task, R"(slot == "x")", 6,
           R"(cannot compare number field "slot" with a string at column 6)"},
          {Kind::task, R"("x" < exit_code)", 5,
           R"(cannot compare a string with number field "exit_code" at column 5)"},
          {Kind::task, "state == null", 7,
           R"(cannot compare string field "state" with null at column 7: it is never null)"},
          {Kind::task, "slot < null", 6, R"("<" at column 6 orders numbers or strings)"},
          {Kind::node, "leader >= true", 8,
           R"(">=" at column 8 orders numbers or strings, not booleans)"},
          {Kind::service, "name", 1,
           R"(the filter must be a condition (true or false), but string field "name" at column 1 is a string)"},
          {Kind::task, "1", 1,
           "the filter must be a condition (true or false), but a number at column 1"},
          {Kind::node, "name && leader", 1,
           R"("and" at column 6 joins conditions, but string field "name" at column 1 is a string)"},
          {Kind::node, "leader || 3", 11,
           R"("or" at column 8 joins conditions, but a number at column 11)"},
          {Kind::node, "not name", 5,
           R"("not" at column 1 needs a condition, but string field "name" at column 5 is a string)"},
          {Kind::task, R"(slot contains "1")", 1,
           R"("contains" at column 6 needs strings, but number field "slot" at column 1 is a number)"},
          {Kind::task, "state startsWith 1", 18,
           R"("startsWith" at column 7 needs strings, but a number at column 18 is a number)"},
          {Kind::task, R"(state in ["a", 1])", 16,
           R"(cannot look for string field "state" in a list holding a number at column 16)"},
          {Kind::task, R"(state in ["a", null])", 16,
           R"(cannot look for string field "state" in a list holding null at column 16: it is never null)"},
          {Kind::service, R"(name matches "(abc")", 14,
           "bad regular expression at column 14: missing )"},
          {Kind::service, R"(name matches "a{2000}")", 14, "bad regular expression at column 14"},
          {Kind::service, "name matches image", 14,
           R"("matches" at column 6 needs a pattern in quotes at column 14)"},
          {Kind::service, R"(labels == "x")", 1,
           R"(field "labels" at column 1 is a map; read one entry with labels["key"])"},
          {Kind::service, R"(name["x"] == "y")", 1,
           R"(string field "name" at column 1 is not a map; only labels takes a ["key"])"},
          {Kind::service, "[1, 2] == 3", 1, R"(a list at column 1 can only follow "in")"},
          {Kind::service, "replicas in [[1]]", 14, "a list at column 14 can only follow"},
      }) {
    CAPTURE(c.text);
    const auto e = failure(c.kind, c.text);
    CHECK(e.code == "FLT002");
    CHECK(e.column == c.column);
    CHECK(e.detail.starts_with(c.detail));
  }
}

TEST_CASE("null compares only with fields that can be null") {
  CHECK(selected(Kind::task, "slot == null") == Ids{"t3"});
  CHECK(selected(Kind::task, "null == slot") == Ids{"t3"});
  CHECK(selected(Kind::task, "exit_code == null") == Ids{"t1", "t3", "t5"});
  CHECK(selected(Kind::task, "exit_code != null") == Ids{"t2", "t4"});
  CHECK(selected(Kind::task, "exit_code != 0") == Ids{"t1", "t2", "t3", "t5"});
  // An unknown exit code is neither above nor below anything.
  CHECK(selected(Kind::task, "exit_code >= 0") == Ids{"t2", "t4"});
  CHECK(selected(Kind::task, "not (exit_code < 1)") == Ids{"t1", "t2", "t3", "t5"});
  CHECK(selected(Kind::task, "slot in [2, null]") == Ids{"t2", "t3"});
  CHECK(selected(Kind::task, "null == null").size() == 5);
}

// ---------------------------------------------------------------------------------------------
// Evaluator

TEST_CASE("the six examples of SPEC §5") {
  CHECK(selected(Kind::node, R"(role == "manager" && state == "ready")") == Ids{"n1"});
  CHECK(selected(Kind::task, R"(state == "failed" || error != "")") == Ids{"t2", "t5"});
  CHECK(selected(Kind::stack, "services > 5") == Ids{"big"});
  CHECK(selected(Kind::stack, "services > 1") == Ids{"big", "shop"});
  CHECK(selected(Kind::service, R"(name matches "^web-[0-9]+$")") == Ids{"s1", "s2"});
  CHECK(selected(Kind::task, R"(state not in ["running", "complete"])") == Ids{"t2", "t5"});
  CHECK(selected(Kind::node, R"(labels["tier"] startsWith "fr")") == Ids{"n1"});
}

TEST_CASE("every field of every kind reads its value") {
  struct Case {
    Kind kind;
    std::string_view text;
    Ids want;
  };
  for (const Case& c : std::vector<Case>{
           {Kind::node,
            R"(id == "n2" and name == "beta" and hostname == "beta" and state == "ready" and )"
            R"(role == "worker" and availability == "drain" and !leader and )"
            R"(address == "10.0.0.2" and engine == "26.1.0" and labels["tier"] == "back")",
            {"n2"}},
           {Kind::node, "leader == true", {"n1"}},
           {Kind::node, R"(labels["nope"] == "")", {"n1", "n2", "n3"}},
           {Kind::service,
            R"(id == "s1" && name == "web-1" && image == "nginx:1.25" && mode == "replicated" && )"
            R"(stack == "shop" && replicas == 3 && running == 1 && labels["tier"] == "frontend")",
            {"s1"}},
           {Kind::service, R"(mode == "global" and replicas == 1 and running == 1)", {"s2"}},
           {Kind::task,
            R"(id == "t2" && state == "failed" && desired_state == "running" && )"
            R"(image == "nginx:1.25" && exit_code == 137 && error contains "137" && )"
            R"(service == "s1" && service_name == "web-1" && node == "n2" && )"
            R"(node_hostname == "beta" && slot == 2 && stack == "shop" && labels["env"] == "prod")",
            {"t2"}},
           // The task carries no stack label: its service's stack counts.
           {Kind::task, R"(stack == "shop")", {"t1", "t2", "t4"}},
           {Kind::task, R"(service_name == "" && node_hostname == "")", {"t5"}},
           {Kind::config, R"(id == "c1" && name == "shop_cfg" && stack == "shop")", {"c1"}},
           {Kind::secret, R"(id == "x1" && name endsWith "_key" && stack == "shop")", {"x1"}},
           {Kind::network,
            R"(id == "net1" && name == "shop_default" && driver == "overlay" && scope == "swarm" )"
            R"(&& stack == "shop")",
            {"net1"}},
           {Kind::network, R"(stack == "")", {"net2"}},
           {Kind::volume,
            R"(name == "shop_data" && id == name && driver == "local" && scope == "local" && )"
            R"(stack == "shop" && labels["com.docker.stack.namespace"] == "shop")",
            {"shop_data"}},
           {Kind::stack,
            R"(name == "shop" && services == 2 && configs == 1 && secrets == 1 && )"
            R"(networks == 1 && volumes == 1 && labels["x"] == "")",
            {"shop"}},
       }) {
    CAPTURE(c.text);
    CHECK(selected(c.kind, c.text) == c.want);
  }
}

TEST_CASE("string comparisons are by bytes; numbers by value") {
  CHECK(selected(Kind::node, R"(name > "alpha" && name <= "beta")") == Ids{"n2"});
  CHECK(selected(Kind::node, R"(name < "Z")").empty());            // uppercase sorts first
  CHECK(selected(Kind::node, "\"\xc3\xa9\" > name").size() == 3);  // bytes >= 0x80 sort last
  CHECK(selected(Kind::task, "slot >= 1.5") == Ids{"t2"});
  CHECK(selected(Kind::task, "exit_code > -1 && exit_code < 1") == Ids{"t4"});
  CHECK(selected(Kind::task, R"(error contains "" && error startsWith "" && state endsWith "")")
            .size() == 5);
  CHECK(selected(Kind::service, "name contains \"EB\"").empty());  // case-sensitive
  CHECK(selected(Kind::service, R"(true and not false)").size() == 9);
}

TEST_CASE("a program only matches items of its own kind") {
  const auto task = compiled(Kind::task, "true");
  const auto stack = compiled(Kind::stack, "true");
  CHECK_FALSE(task->matches(*snap(), snap()->stacks->front()));
  CHECK_FALSE(stack->matches(*snap(), *snap()->table(Kind::task).items.front()));
}

TEST_CASE("regexes run in linear time") {
  auto o = std::make_shared<Object>();
  o->kind = Kind::task;
  o->id = "t";
  o->error = std::string(100000, 'a') + "!";
  const state::Snapshot empty;
  const auto start = std::chrono::steady_clock::now();
  for (const auto* re : {"(a+)+$", "^(a|aa)+$", "(a*)*b", "(x+x+)+y"}) {
    const auto p = compiled(Kind::task, std::string("error matches \"") + re + "\"");
    CHECK_FALSE(p->matches(empty, *o));
  }
  CHECK(compiled(Kind::task, R"(error matches "a!$")")->matches(empty, *o));
  // How long is a figure, not an assertion (tests/bench/filter_bench.cpp measures it): with a
  // backtracking engine these patterns would not return at all on 100 000 characters.
  MESSAGE("pathological patterns on 100 000 characters: "
          << std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now() - start)
                 .count()
          << " ms");
}

// ---------------------------------------------------------------------------------------------
// Limits

TEST_CASE("limits: length, depth, list size") {
  std::string text = R"(state == ")";
  text += std::string(512 - text.size() - 1, 'x') + "\"";
  CHECK(compile_filter(Kind::task, text).has_value());
  text.insert(10, "y");
  const auto too_long = failure(Kind::task, text);
  CHECK(too_long.code == "FLT001");
  CHECK(too_long.detail == "the filter is 513 characters long; the limit is 512 characters");
  CHECK(failure(Kind::task, "leader", 5).code == "FLT001");

  auto parens = [](std::size_t n) { return std::string(n, '(') + "leader" + std::string(n, ')'); };
  CHECK(compile_filter(Kind::node, parens(64)).has_value());
  auto deep = failure(Kind::node, parens(65));
  CHECK(deep.code == "FLT002");
  CHECK(deep.column == 65);
  CHECK(deep.detail ==
        "the filter nests deeper than 64 levels (parentheses, not, lists) at column 65");
  CHECK(compile_filter(Kind::node, std::string(64, '!') + "leader").has_value());
  CHECK(failure(Kind::node, std::string(65, '!') + "leader").column == 65);
  CHECK(failure(Kind::node, std::string(32, '(') + std::string(33, '!') + "leader").column == 65);
  CHECK(failure(Kind::node, std::string(64, '(') + "name in [\"a\"]").column == 73);

  auto list = [](std::size_t n) {
    std::string s = "slot in [0";
    for (std::size_t i = 1; i < n; ++i) s += ",0";
    return s + "]";
  };
  CHECK(compile_filter(Kind::task, list(1024), 1 << 20).has_value());
  const auto long_list = failure(Kind::task, list(1025), 1 << 20);
  CHECK(long_list.code == "FLT002");
  CHECK(long_list.column == 10 + 2 * 1024);
  CHECK(long_list.detail.starts_with("a list holds at most 1024 elements"));
}

TEST_CASE("hostile nesting fails fast without exhausting the stack") {
  constexpr std::size_t kHuge = 100000;
  for (const auto& text :
       {std::string(kHuge, '('), std::string(kHuge, '!'), std::string(kHuge, '['),
        std::string("slot in ") + std::string(kHuge, '['), [] {
          std::string s;
          for (std::size_t i = 0; i < kHuge; ++i) s += "not ";
          return s;
        }()}) {
    const auto e = failure(Kind::task, text, 1 << 24);
    CHECK(e.code == "FLT002");
    CHECK(e.column <= 1 + 4 * query::kMaxFilterDepth + 8);
  }
  // A long flat chain is not nesting: it compiles and runs (n-ary nodes, no deep recursion).
  std::string chain = "leader";
  for (int i = 0; i < 20000; ++i) chain += i % 2 ? " && !false" : " || leader";
  const auto p = compiled(Kind::node, chain, 1 << 24);
  CHECK(p->matches(*snap(), *snap()->table(Kind::node).items.front()));
}

// ---------------------------------------------------------------------------------------------
// Cache

TEST_CASE("the cache compiles once per (kind, text), errors included") {
  FilterCache cache(8);
  const auto a = cache.get(Kind::task, R"(state == "running")");
  const auto b = cache.get(Kind::task, R"(state == "running")");
  REQUIRE(a.has_value());
  CHECK(a->get() == b->get());
  CHECK(cache.compilations() == 1);
  CHECK(cache.get(Kind::node, R"(state == "running")").has_value());
  CHECK(cache.compilations() == 2);
  const auto e1 = cache.get(Kind::task, "stat == 1");
  const auto e2 = cache.get(Kind::task, "stat == 1");
  REQUIRE_FALSE(e1.has_value());
  CHECK(e2.error().detail == e1.error().detail);
  CHECK(cache.compilations() == 3);
  CHECK(cache.size() == 3);
  // Over-long texts are refused before the cache: they never occupy it.
  CHECK(cache.get(Kind::task, std::string(600, ' ')).error().code == "FLT001");
  CHECK(cache.size() == 3);
}

TEST_CASE("the cache evicts the least recently used entry") {
  FilterCache cache(2);
  (void)cache.get(Kind::node, "leader");          // 1
  (void)cache.get(Kind::node, "!leader");         // 2
  (void)cache.get(Kind::node, "leader");          // hit: "!leader" is now the oldest
  (void)cache.get(Kind::node, "leader == true");  // 3, evicts "!leader"
  CHECK(cache.compilations() == 3);
  CHECK(cache.size() == 2);
  (void)cache.get(Kind::node, "leader");  // still cached
  CHECK(cache.compilations() == 3);
  (void)cache.get(Kind::node, "!leader");  // compiled again
  CHECK(cache.compilations() == 4);

  FilterCache none(0);
  (void)none.get(Kind::node, "leader");
  (void)none.get(Kind::node, "leader");
  CHECK(none.compilations() == 2);
  CHECK(none.size() == 0);
}

TEST_CASE("the cache is safe to share between threads") {
  FilterCache cache(4);
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const auto text = "slot == " + std::to_string((i * 7 + t) % 10);
        const auto r = cache.get(Kind::task, text);
        if (!r || (*r)->matches(*snap(), *snap()->table(Kind::task).items.front()) !=
                      (text == "slot == 1")) {
          ++bad;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(bad == 0);
  CHECK(cache.size() == 4);
}

// ---------------------------------------------------------------------------------------------
// Differential test: a naive reference interpreter, written apart from the compiler (its own
// field reader, linear lookups, std::regex), must agree with compiled programs on thousands of
// generated expressions over a randomly generated swarm.

namespace {
namespace ref {

using Scalar = std::variant<std::monostate, bool, double, std::string>;
enum class T { s, n, b };

struct FieldSpec {
  std::string name;
  T type;
  bool nullable;
};

const std::vector<FieldSpec>& specs(Kind k) {
  static const std::vector<FieldSpec> node{
      {"id", T::s, false},     {"name", T::s, false},    {"hostname", T::s, false},
      {"state", T::s, false},  {"role", T::s, false},    {"availability", T::s, false},
      {"leader", T::b, false}, {"address", T::s, false}, {"engine", T::s, false}};
  static const std::vector<FieldSpec> service{{"id", T::s, false},     {"name", T::s, false},
                                              {"image", T::s, false},  {"mode", T::s, false},
                                              {"stack", T::s, false},  {"replicas", T::n, false},
                                              {"running", T::n, false}};
  static const std::vector<FieldSpec> task{{"id", T::s, false},
                                           {"state", T::s, false},
                                           {"desired_state", T::s, false},
                                           {"image", T::s, false},
                                           {"exit_code", T::n, true},
                                           {"error", T::s, false},
                                           {"service", T::s, false},
                                           {"service_name", T::s, false},
                                           {"node", T::s, false},
                                           {"node_hostname", T::s, false},
                                           {"slot", T::n, true},
                                           {"stack", T::s, false}};
  static const std::vector<FieldSpec> stack{{"name", T::s, false},     {"services", T::n, false},
                                            {"configs", T::n, false},  {"secrets", T::n, false},
                                            {"networks", T::n, false}, {"volumes", T::n, false}};
  switch (k) {
    case Kind::node: return node;
    case Kind::service: return service;
    case Kind::task: return task;
    default: return stack;
  }
}

struct Ctx {
  const state::Snapshot* snap;
  Kind kind;
  const Object* o;
  const state::Stack* st;
};

const Object* linear_find(const state::Snapshot& snap, Kind k, const std::string& id) {
  for (const auto& x : snap.table(k).items) {
    if (x->id == id) return x.get();
  }
  return nullptr;
}

Scalar read(const Ctx& c, const std::string& f) {
  if (c.kind == Kind::stack) {
    if (f == "name") return c.st->name;
    const Kind k = f == "services"   ? Kind::service
                   : f == "configs"  ? Kind::config
                   : f == "secrets"  ? Kind::secret
                   : f == "networks" ? Kind::network
                                     : Kind::volume;
    return static_cast<double>(c.st->of(k).size());
  }
  const Object& o = *c.o;
  if (f == "id") return o.id;
  if (f == "name" || f == "hostname") return o.name;
  if (f == "state") return o.state;
  if (f == "role") return o.role;
  if (f == "availability") return o.availability;
  if (f == "leader") return o.leader;
  if (f == "address") return o.address;
  if (f == "engine") return o.engine_version;
  if (f == "image") return o.image;
  if (f == "mode") return o.mode;
  if (f == "replicas") return static_cast<double>(c.snap->tally(o.id).desired);
  if (f == "running") return static_cast<double>(c.snap->tally(o.id).running);
  if (f == "desired_state") return o.desired_state;
  if (f == "error") return o.error;
  if (f == "service") return o.service_id;
  if (f == "node") return o.node_id;
  if (f == "exit_code") return o.exit_code ? Scalar(static_cast<double>(*o.exit_code)) : Scalar{};
  if (f == "slot") return o.slot ? Scalar(static_cast<double>(*o.slot)) : Scalar{};
  const Object* svc = linear_find(*c.snap, Kind::service, o.service_id);
  if (f == "service_name") return svc ? svc->name : std::string();
  if (f == "node_hostname") {
    const Object* n = linear_find(*c.snap, Kind::node, o.node_id);
    return n ? n->name : std::string();
  }
  if (f == "stack") {
    if (c.kind != Kind::task || !o.stack.empty()) return o.stack;
    return svc ? svc->stack : std::string();
  }
  FAIL("no reference for field " << f);
  return {};
}

std::string read_label(const Ctx& c, const std::string& key) {
  if (c.o == nullptr) return {};
  for (const auto& [k, v] : c.o->labels) {
    if (k == key) return v;
  }
  return {};
}

struct Expr {
  enum class K { field, label, str, num, boolean, null, cmp, in, text, negate, all, any };
  explicit Expr(K kind, std::string text = {}) : k(kind), s(std::move(text)) {}
  K k;
  std::string s;  // field name, label key, string value, number spelling, operator
  double n = 0;
  bool b = false;
  bool negated = false;  // not in
  bool parens = false;
  std::vector<Expr> kids;
};

bool is_cond(const Expr& e) {
  return e.k == Expr::K::cmp || e.k == Expr::K::in || e.k == Expr::K::text ||
         e.k == Expr::K::negate || e.k == Expr::K::all || e.k == Expr::K::any;
}

class Interpreter {
 public:
  explicit Interpreter(const Ctx& c) : c_(c) {}

  Scalar value(const Expr& e) {
    switch (e.k) {
      case Expr::K::field: return read(c_, e.s);
      case Expr::K::label: return read_label(c_, e.s);
      case Expr::K::str: return e.s;
      case Expr::K::num: return e.n;
      case Expr::K::boolean: return e.b;
      case Expr::K::null: return std::monostate{};
      default: return test(e);
    }
  }

  bool test(const Expr& e) {
    switch (e.k) {
      case Expr::K::negate: return !test(e.kids[0]);
      case Expr::K::all:
        return std::all_of(e.kids.begin(), e.kids.end(), [&](const Expr& k) { return test(k); });
      case Expr::K::any:
        return std::any_of(e.kids.begin(), e.kids.end(), [&](const Expr& k) { return test(k); });
      case Expr::K::in: {
        const Scalar v = value(e.kids[0]);
        bool found = false;
        for (std::size_t i = 1; i < e.kids.size(); ++i) found = found || v == value(e.kids[i]);
        return found != e.negated;
      }
      case Expr::K::text: {
        const auto a = std::get<std::string>(value(e.kids[0]));
        const auto b = std::get<std::string>(value(e.kids[1]));
        if (e.s == "contains") return a.find(b) != std::string::npos;
        if (e.s == "startsWith") return a.size() >= b.size() && a.compare(0, b.size(), b) == 0;
        if (e.s == "endsWith") {
          return a.size() >= b.size() && a.compare(a.size() - b.size(), b.size(), b) == 0;
        }
        return std::regex_search(a, std::regex(b));
      }
      case Expr::K::cmp: {
        const Scalar a = value(e.kids[0]);
        const Scalar b = value(e.kids[1]);
        if (e.s == "==") return a == b;
        if (e.s == "!=") return a != b;
        if (a.index() != b.index() || a.index() == 0) return false;  // null is unordered
        const int o = std::holds_alternative<double>(a)
                          ? (std::get<double>(a) < std::get<double>(b)
                                 ? -1
                                 : (std::get<double>(b) < std::get<double>(a) ? 1 : 0))
                          : std::get<std::string>(a).compare(std::get<std::string>(b));
        if (e.s == "<") return o < 0;
        if (e.s == ">") return o > 0;
        if (e.s == "<=") return o <= 0;
        return o >= 0;
      }
      default: return std::get<bool>(value(e));
    }
  }

 private:
  Ctx c_;
};

// Generates well-typed expressions whose literals are mostly values that occur in the swarm, so
// that comparisons are true often enough to mean something.
class Generator {
 public:
  Generator(Kind kind, std::uint32_t seed, const std::vector<Ctx>& items)
      : kind_(kind), rng_(seed) {
    for (const auto& f : specs(kind)) {
      if (f.nullable) nullable_.push_back(f.name);
      for (const Ctx& c : items) {
        const Scalar v = read(c, f.name);
        if (const auto* s = std::get_if<std::string>(&v); s != nullptr && !s->empty()) {
          strings_.push_back(*s);
        }
      }
    }
    for (const char* extra : {"", "web", "zzz", "a'b\"c\\d", "\xc3\xa9", "x\ny"}) {
      strings_.emplace_back(extra);
    }
  }

  Expr cond(int depth) {
    const int pick = static_cast<int>(roll(depth > 0 ? 11 : 7));
    switch (pick) {
      case 0:
      case 6: return compare(depth);
      case 1: {
        if (nullable_.empty()) return compare(depth);
        Expr f{Expr::K::field, nullable_[roll(nullable_.size())]};
        Expr e{Expr::K::cmp, roll(2) ? "==" : "!="};
        e.kids = roll(2) ? std::vector<Expr>{f, Expr{Expr::K::null}}
                         : std::vector<Expr>{Expr{Expr::K::null}, f};
        return e;
      }
      case 2: {
        const T t = some_type();
        Expr e{Expr::K::in};
        e.negated = roll(2) == 1;
        e.kids.push_back(value(t, depth));
        const auto n = roll(5);
        for (std::size_t i = 0; i < n; ++i) e.kids.push_back(value(t, 0));
        if (e.kids[0].k == Expr::K::field && is_nullable(e.kids[0].s) && roll(2)) {
          e.kids.push_back(Expr{Expr::K::null});
        }
        return e;
      }
      case 3: {
        static const char* const kOps[] = {"contains", "startsWith", "endsWith"};
        Expr e{Expr::K::text, kOps[roll(3)]};
        e.kids.push_back(value(T::s, 0));
        if (roll(4) == 0) {
          e.kids.push_back(value(T::s, 0));
        } else {  // a piece of a real value
          const std::string& s = strings_[roll(strings_.size())];
          const std::size_t a = roll(s.size() + 1);
          const std::size_t len = roll(s.size() - a + 1);
          e.kids.push_back(Expr{Expr::K::str, e.s == "startsWith" ? s.substr(0, len)
                                              : e.s == "endsWith" ? s.substr(s.size() - len)
                                                                  : s.substr(a, len)});
        }
        return e;
      }
      case 4: {
        static const char* const kPatterns[] = {"^web-[0-9]+$", "a",      "^$",   "n.d",
                                                "[0-9]",        "^(a|b)", "ing$", "e.*e"};
        Expr e{Expr::K::text, "matches"};
        e.kids = {value(T::s, 0), Expr{Expr::K::str, kPatterns[roll(8)]}};
        return e;
      }
      case 5: return value(T::b, 0);
      case 7: {
        Expr e{Expr::K::negate};
        e.kids.push_back(cond(depth - 1));
        return e;
      }
      default: {
        Expr e{pick == 8 ? Expr::K::all : Expr::K::any};
        const auto n = 2 + roll(3);
        for (std::size_t i = 0; i < n; ++i) e.kids.push_back(cond(depth - 1));
        e.parens = roll(3) == 0;
        return e;
      }
    }
  }

  std::string render(const Expr& e) {
    std::string out = e.parens ? "(" : "";
    switch (e.k) {
      case Expr::K::field: out += e.s; break;
      case Expr::K::label: out += "labels[" + quoted(e.s) + "]"; break;
      case Expr::K::str: out += quoted(e.s); break;
      case Expr::K::num: out += e.s; break;
      case Expr::K::boolean: out += e.b ? "true" : "false"; break;
      case Expr::K::null: out += "null"; break;
      case Expr::K::cmp:
        out += operand(e.kids[0]) + space() + e.s + space() + operand(e.kids[1]);
        break;
      case Expr::K::text: out += operand(e.kids[0]) + " " + e.s + " " + operand(e.kids[1]); break;
      case Expr::K::in:
        out += operand(e.kids[0]) + (e.negated ? " not in [" : " in [");
        for (std::size_t i = 1; i < e.kids.size(); ++i) {
          out += (i > 1 ? "," + space() : "") + operand(e.kids[i]);
        }
        out += "]";
        break;
      case Expr::K::negate: {
        static const char* const kNot[] = {"not ", "!", "! "};
        const Expr& kid = e.kids[0];
        const bool wrap = kid.k == Expr::K::all || kid.k == Expr::K::any;
        out += kNot[roll(3)] + (wrap ? "(" + render(kid) + ")" : render(kid));
        break;
      }
      case Expr::K::all:
      case Expr::K::any: {
        static const char* const kAnd[] = {" and ", " && ", "&&"};
        static const char* const kOr[] = {" or ", " || ", "||"};
        for (std::size_t i = 0; i < e.kids.size(); ++i) {
          if (i > 0) out += e.k == Expr::K::all ? kAnd[roll(3)] : kOr[roll(3)];
          const bool wrap = e.k == Expr::K::all && e.kids[i].k == Expr::K::any;
          out += wrap ? "(" + render(e.kids[i]) + ")" : render(e.kids[i]);
        }
        break;
      }
    }
    return out + (e.parens ? ")" : "");
  }

 private:
  std::size_t roll(std::size_t n) {
    return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
  }
  std::string space() { return roll(3) == 0 ? "" : " "; }

  bool is_nullable(const std::string& f) const {
    return std::find(nullable_.begin(), nullable_.end(), f) != nullable_.end();
  }

  T some_type() {
    const T types[] = {T::s, T::s, T::n, T::b};
    return types[roll(4)];
  }

  std::vector<const FieldSpec*> fields(T t) const {
    std::vector<const FieldSpec*> out;
    for (const auto& f : specs(kind_)) {
      if (f.type == t) out.push_back(&f);
    }
    return out;
  }

  // An operand of type `t`: a field, a label, a literal, or (booleans) a parenthesised
  // condition.
  Expr value(T t, int depth) {
    const auto fs = fields(t);
    const auto pick = roll(4);
    if (pick == 0 && !fs.empty()) return Expr{Expr::K::field, fs[roll(fs.size())]->name};
    if (t == T::s && pick == 1) {
      static const char* const kKeys[] = {"tier", "env", "com.docker.stack.namespace", "nope"};
      return Expr{Expr::K::label, kKeys[roll(4)]};
    }
    if (t == T::b && pick == 1 && depth > 0) {
      Expr e = cond(depth - 1);
      e.parens = true;
      return e;
    }
    if (!fs.empty() && pick == 2) return Expr{Expr::K::field, fs[roll(fs.size())]->name};
    switch (t) {
      case T::s: return Expr{Expr::K::str, strings_[roll(strings_.size())]};
      case T::n: {
        static const std::pair<const char*, double> kNums[] = {
            {"0", 0},     {"1", 1},     {"2", 2}, {"-1", -1},
            {"2.5", 2.5}, {"137", 137}, {"3", 3}, {"6", 6}};
        const auto& [text, num] = kNums[roll(8)];
        Expr e{Expr::K::num, text};
        e.n = num;
        return e;
      }
      default: {
        Expr e{Expr::K::boolean};
        e.b = roll(2) == 1;
        return e;
      }
    }
  }

  Expr compare(int depth) {
    const T t = some_type();
    static const char* const kOps[] = {"==", "!=", "<", ">", "<=", ">="};
    Expr e{Expr::K::cmp, kOps[roll(t == T::b ? 2 : 6)]};
    e.kids = {value(t, depth), value(t, depth)};
    return e;
  }

  std::string quoted(const std::string& s) {
    const char q = roll(2) ? '"' : '\'';
    std::string out(1, q);
    for (const char c : s) {
      if (c == q || c == '\\') {
        out += '\\';
        out += c;
      } else if (c == '\n') {
        out += "\\n";
      } else {
        out += c;
      }
    }
    return out + q;
  }

  std::string operand(const Expr& e) {
    return is_cond(e) && !e.parens ? "(" + render(e) + ")" : render(e);
  }

  Kind kind_;
  std::mt19937 rng_;
  std::vector<std::string> nullable_;
  std::vector<std::string> strings_;
};

// A random swarm: every field takes several values, some cross-references dangle.
state::SnapshotPtr random_swarm(std::uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](std::initializer_list<const char*> options) {
    return std::string(*(options.begin() +
                         std::uniform_int_distribution<std::size_t>(0, options.size() - 1)(rng)));
  };
  auto chance = [&](int percent) {
    return std::uniform_int_distribution<int>(0, 99)(rng) < percent;
  };
  auto labels = [&](state::Labels& l) {
    if (chance(50)) l.emplace_back("tier", pick({"front", "back", "frontend", ""}));
    if (chance(30)) l.emplace_back("env", pick({"prod", "dev"}));
  };
  state::Change c;
  for (int i = 0; i < 5; ++i) {
    auto o = std::make_shared<Object>();
    o->kind = Kind::node;
    o->id = "n" + std::to_string(i);
    o->name = pick({"alpha", "beta", "gamma", "node-1", "web-9"});
    o->state = pick({"ready", "down", "unknown"});
    o->role = pick({"manager", "worker"});
    o->availability = pick({"active", "pause", "drain"});
    o->leader = chance(20);
    o->address = "10.0.0." + std::to_string(i);
    o->engine_version = pick({"26.1.0", "25.0.3"});
    labels(o->labels);
    c.upserts.push_back(o);
  }
  for (int i = 0; i < 8; ++i) {
    auto o = std::make_shared<Object>();
    o->kind = Kind::service;
    o->id = "s" + std::to_string(i);
    o->name = pick({"web-1", "web-2", "api", "db", "web-x", "worker"}) + std::to_string(i % 3);
    o->image = pick({"nginx:1.25", "postgres:16", "busybox"});
    o->mode = pick({"replicated", "global"});
    o->replicas = o->mode == "replicated" ? std::uniform_int_distribution<int>(0, 4)(rng) : 0;
    o->stack = pick({"", "shop", "ops", "big"});
    labels(o->labels);
    if (!o->stack.empty()) o->labels.emplace_back(state::kStackLabel, o->stack);
    c.upserts.push_back(o);
  }
  for (int i = 0; i < 90; ++i) {
    auto o = std::make_shared<Object>();
    o->kind = Kind::task;
    o->id = "t" + std::to_string(100 + i);
    o->service_id = chance(90) ? "s" + std::to_string(i % 8) : "gone";
    o->node_id = chance(90) ? "n" + std::to_string(i % 5) : "n99";
    if (chance(80)) o->slot = std::uniform_int_distribution<int>(1, 4)(rng);
    if (chance(50)) o->exit_code = std::array{0, 1, 137, -1}[rng() % 4];
    o->state = pick({"running", "failed", "complete", "rejected", "shutdown"});
    o->desired_state = pick({"running", "shutdown"});
    o->error = chance(30) ? pick({"No such image", "task: non-zero exit (137)"}) : "";
    o->image = pick({"nginx:1.25", "busybox"});
    if (chance(30)) o->stack = pick({"shop", "ops"});
    labels(o->labels);
    c.upserts.push_back(o);
  }
  for (const char* st : {"shop", "ops", "big", "none"}) {
    for (const Kind k : {Kind::config, Kind::secret, Kind::network, Kind::volume}) {
      if (!chance(60)) continue;
      auto o = std::make_shared<Object>();
      o->kind = k;
      o->id = o->name = std::string(st) + "_" + std::string(state::kind_name(k));
      o->stack = st;
      o->labels.emplace_back(state::kStackLabel, st);
      c.upserts.push_back(o);
    }
  }
  state::Store store(10);
  (void)store.apply(c);
  return store.snapshot();
}

}  // namespace ref
}  // namespace

TEST_CASE("differential: compiled programs agree with a naive reference interpreter") {
  const auto swarm = ref::random_swarm(7);
  REQUIRE(swarm->stacks->size() >= 2);
  for (const Kind kind : {Kind::node, Kind::service, Kind::task, Kind::stack}) {
    const std::string kind_name(state::kind_name(kind));
    CAPTURE(kind_name);
    std::vector<ref::Ctx> items;
    if (kind == Kind::stack) {
      for (const auto& st : *swarm->stacks) items.push_back({swarm.get(), kind, nullptr, &st});
    } else {
      for (const auto& o : swarm->table(kind).items)
        items.push_back({swarm.get(), kind, o.get(), nullptr});
    }
    ref::Generator gen(kind, 1000 + static_cast<std::uint32_t>(kind), items);
    std::size_t agreed = 0, disagreed = 0, hits = 0, total = 0;
    for (int i = 0; i < 1500; ++i) {
      const ref::Expr e = gen.cond(3);
      const std::string text = gen.render(e);
      const auto program = compile_filter(kind, text, 1 << 16);
      if (!program) {
        FAIL_CHECK(text << " → " << program.error().detail);
        continue;
      }
      for (const ref::Ctx& c : items) {
        const bool want = ref::Interpreter(c).test(e);
        const bool got = kind == Kind::stack ? (*program)->matches(*swarm, *c.st)
                                             : (*program)->matches(*swarm, *c.o);
        if (want == got) {
          ++agreed;
        } else if (++disagreed < 10) {
          FAIL_CHECK(text << " on " << (c.o ? c.o->id : c.st->name) << ": want " << want);
        }
        hits += want ? 1 : 0;
        ++total;
      }
    }
    CHECK(disagreed == 0);
    CHECK(agreed == total);
    // The generated expressions discriminate: neither almost always true nor almost always
    // false.
    CHECK(hits > total / 10);
    CHECK(hits < total * 9 / 10);
  }
}

TEST_CASE("random token soup never crashes and errors point inside the text") {
  static const char* const kTokens[] = {
      "state",       "slot",     "labels",  "[",          "]",       "(",
      ")",           ",",        "==",      "!=",         "<",       ">=",
      "&&",          "||",       "!",       "not",        "in",      "and",
      "or",          "contains", "matches", "startsWith", "\"run\"", "'x'",
      "1",           "-2.5",     "null",    "true",       "false",   "\"(\"",
      "\"\\u00e9\"", "\"",       "=",       "#",          "1e5",     "service_name",
      "exit_code",   "stat",     "\"\\q\""};
  std::mt19937 rng(42);
  const auto snapshot = snap();
  std::size_t ok = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    const auto n = std::uniform_int_distribution<int>(0, 12)(rng);
    for (int j = 0; j < n; ++j) {
      text += kTokens[std::uniform_int_distribution<std::size_t>(0, std::size(kTokens) - 1)(rng)];
      if (rng() % 2) text += ' ';
    }
    const auto r = compile_filter(Kind::task, text);
    if (r) {
      ++ok;
      for (const auto& o : snapshot->table(Kind::task).items) (void)(*r)->matches(*snapshot, *o);
      continue;
    }
    CAPTURE(text);
    CHECK(r.error().code == "FLT002");
    CHECK(r.error().column >= 1);
    CHECK(r.error().column <= text.size() + 1);
    CHECK(r.error().detail.find("at column " + std::to_string(r.error().column)) !=
          std::string::npos);
  }
  CHECK(ok > 0);
}

TEST_CASE("a filter only selects: select over filtered items is a subsequence, same order") {
  const auto swarm = ref::random_swarm(11);
  std::vector<const Object*> all;
  for (const auto& o : swarm->table(Kind::task).items) all.push_back(o.get());
  for (const char* sort : {"", "state", "service", "node", "slot"}) {
    for (const char* text : {R"(state == "running")", "slot >= 2 || exit_code == null",
                             R"(service_name startsWith "web" and not (error != ""))"}) {
      CAPTURE(text);
      query::ListQuery q;
      q.limit = 1000;
      q.sort = sort;
      q.descending = std::string_view(sort) == "slot";
      const auto program = compiled(Kind::task, text);
      std::vector<const Object*> filtered;
      for (const Object* o : all) {
        if (program->matches(*swarm, *o)) filtered.push_back(o);
      }
      const auto whole = query::select(*swarm, Kind::task, all, q);
      const auto part = query::select(*swarm, Kind::task, filtered, q);
      CHECK(part.total == filtered.size());
      CHECK(part.total < whole.total);
      auto it = whole.items.begin();
      for (const Object* o : part.items) {
        it = std::find(it, whole.items.end(), o);
        REQUIRE(it != whole.items.end());
        ++it;
      }
    }
  }
}

TEST_CASE("a regular expression gets a small memory budget: big ones are refused, not kept") {
  // Fine under the budget.
  CHECK(compile_filter(Kind::service, R"(name matches "^web-[0-9]+$")").has_value());
  CHECK(compile_filter(Kind::service, R"(name matches "(a|b|c|d)[a-z0-9_-]{1,60}\\.example")")
            .has_value());
  // 20 000 instructions: more than 256 KiB holds (RE2's default 8 MiB would take it).
  const auto big =
      compile_filter(Kind::service, R"x(name matches "(abcdefghijklmnopqrst){1000}")x");
  REQUIRE_FALSE(big.has_value());
  CHECK(big.error().code == "FLT002");
  CHECK(big.error().detail.find("bad regular expression") != std::string::npos);
}
