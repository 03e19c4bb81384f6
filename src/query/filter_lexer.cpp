#include "filter_lexer.hpp"

#include <charconv>
#include <cstdint>
#include <system_error>

namespace narwhal::query::filter {

FilterError syntax_error(std::size_t column, std::string detail) {
  return FilterError{"FLT002", column, std::move(detail)};
}

std::string at_column(std::size_t column) {
  return " at column " + std::to_string(column);
}

std::string quote(std::string_view s) {
  constexpr std::size_t kMaxShown = 40;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char ch : s.substr(0, kMaxShown)) {
    const auto b = static_cast<unsigned char>(ch);
    if (b == '"' || b == '\\') {
      out += '\\';
      out += ch;
    } else if (b < 0x20 || b >= 0x7f) {
      // Details end up in JSON problem bodies: keep them plain ASCII whatever the input was.
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 0xf];
    } else {
      out += ch;
    }
  }
  if (s.size() > kMaxShown) out += "…";
  out += '"';
  return out;
}

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_ident_char(char c) {
  return is_ident_start(c) || is_digit(c);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// Four hex digits at `pos`, or -1.
long hex4(std::string_view text, std::size_t pos) {
  if (pos + 4 > text.size()) return -1;
  long v = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    const int h = hex_value(text[pos + i]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

}  // namespace

util::Result<Token, FilterError> Lexer::next() {
  while (pos_ < text_.size() && is_space(text_[pos_])) ++pos_;
  Token t;
  t.column = pos_ + 1;
  if (pos_ >= text_.size()) return t;
  const std::size_t start = pos_;
  const char c = text_[pos_];
  const char c2 = pos_ + 1 < text_.size() ? text_[pos_ + 1] : '\0';
  auto single = [&](Tok k, std::size_t len) {
    t.kind = k;
    t.raw = text_.substr(start, len);
    pos_ += len;
    return t;
  };
  if (c == '"' || c == '\'') return string_literal(start);
  if (is_digit(c) || (c == '-' && is_digit(c2))) return number_literal(start);
  if (is_ident_start(c)) {
    std::size_t end = pos_;
    while (end < text_.size() && is_ident_char(text_[end])) ++end;
    return single(Tok::ident, end - pos_);
  }
  switch (c) {
    case '(': return single(Tok::lparen, 1);
    case ')': return single(Tok::rparen, 1);
    case '[': return single(Tok::lbracket, 1);
    case ']': return single(Tok::rbracket, 1);
    case ',': return single(Tok::comma, 1);
    case '<': return c2 == '=' ? single(Tok::le, 2) : single(Tok::lt, 1);
    case '>': return c2 == '=' ? single(Tok::ge, 2) : single(Tok::gt, 1);
    case '!': return c2 == '=' ? single(Tok::ne, 2) : single(Tok::bang, 1);
    case '=':
      if (c2 == '=') return single(Tok::eq, 2);
      return util::Unexpected{syntax_error(
          t.column, "unexpected \"=\"" + at_column(t.column) + "; did you mean \"==\"?")};
    case '&':
      if (c2 == '&') return single(Tok::and_, 2);
      return util::Unexpected{syntax_error(
          t.column, "unexpected \"&\"" + at_column(t.column) + "; did you mean \"&&\"?")};
    case '|':
      if (c2 == '|') return single(Tok::or_, 2);
      return util::Unexpected{syntax_error(
          t.column, "unexpected \"|\"" + at_column(t.column) + "; did you mean \"||\"?")};
    default: break;
  }
  return util::Unexpected{syntax_error(
      t.column, "unexpected character " + quote(text_.substr(start, 1)) + at_column(t.column))};
}

util::Result<Token, FilterError> Lexer::string_literal(std::size_t start) {
  const char delim = text_[start];
  Token t;
  t.kind = Tok::string;
  t.column = start + 1;
  std::size_t i = start + 1;
  while (i < text_.size()) {
    const char c = text_[i];
    if (c == delim) {
      t.raw = text_.substr(start, i + 1 - start);
      pos_ = i + 1;
      return t;
    }
    if (c != '\\') {
      t.text += c;
      ++i;
      continue;
    }
    const std::size_t esc_col = i + 1;
    if (i + 1 >= text_.size()) break;  // unterminated
    const char e = text_[i + 1];
    i += 2;
    switch (e) {
      case '"': t.text += '"'; break;
      case '\'': t.text += '\''; break;
      case '\\': t.text += '\\'; break;
      case '/': t.text += '/'; break;
      case 'n': t.text += '\n'; break;
      case 't': t.text += '\t'; break;
      case 'r': t.text += '\r'; break;
      case 'b': t.text += '\b'; break;
      case 'f': t.text += '\f'; break;
      case 'u': {
        long cp = hex4(text_, i);
        if (cp < 0) {
          return util::Unexpected{
              syntax_error(esc_col, "malformed \\u escape" + at_column(esc_col) +
                                        ": it needs four hex digits, e.g. \\u00e9")};
        }
        i += 4;
        if (cp >= 0xd800 && cp <= 0xdbff) {  // a high surrogate must be followed by a low one
          const long lo = i + 1 < text_.size() && text_[i] == '\\' && text_[i + 1] == 'u'
                              ? hex4(text_, i + 2)
                              : -1;
          if (lo < 0xdc00 || lo > 0xdfff) {
            return util::Unexpected{
                syntax_error(esc_col, "unpaired surrogate in \\u escape" + at_column(esc_col))};
          }
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          i += 6;
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
          return util::Unexpected{
              syntax_error(esc_col, "unpaired surrogate in \\u escape" + at_column(esc_col))};
        }
        append_utf8(t.text, static_cast<std::uint32_t>(cp));
        break;
      }
      default:
        return util::Unexpected{syntax_error(
            esc_col, "unknown escape " + quote(text_.substr(esc_col - 1, 2)) + " in a string" +
                         at_column(esc_col) + R"(; use \" \' \\ \n \t or \uXXXX)")};
    }
  }
  return util::Unexpected{
      syntax_error(t.column, "unterminated string starting" + at_column(t.column))};
}

util::Result<Token, FilterError> Lexer::number_literal(std::size_t start) {
  std::size_t i = start;
  if (text_[i] == '-') ++i;
  while (i < text_.size() && is_digit(text_[i])) ++i;
  bool ok = true;
  if (i < text_.size() && text_[i] == '.') {
    ++i;
    const std::size_t frac = i;
    while (i < text_.size() && is_digit(text_[i])) ++i;
    ok = i > frac;
  }
  // "12abc" or "1.x" is one malformed word, not a number followed by a field.
  while (i < text_.size() && (is_ident_char(text_[i]) || text_[i] == '.')) {
    ok = false;
    ++i;
  }
  Token t;
  t.kind = Tok::number;
  t.column = start + 1;
  t.raw = text_.substr(start, i - start);
  if (!ok) {
    return util::Unexpected{syntax_error(t.column, "malformed number " + quote(t.raw) +
                                                       at_column(t.column) +
                                                       ": write integers or decimals like 2.5")};
  }
  const auto [ptr, ec] = std::from_chars(t.raw.data(), t.raw.data() + t.raw.size(), t.number);
  if (ec != std::errc{} || ptr != t.raw.data() + t.raw.size()) {
    return util::Unexpected{syntax_error(
        t.column, "number " + quote(t.raw) + at_column(t.column) + " is out of range")};
  }
  pos_ = i;
  return t;
}

}  // namespace narwhal::query::filter
