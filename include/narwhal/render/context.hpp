// The JSON-LD context of every narwhal body (SPEC §3, §11: /api/context.jsonld). It names each
// @type and camelCase key the renderers write, and maps Docker's own PascalCase fields through
// @vocab, so a JSON-LD processor expands any narwhal body without dropping a key. Its bytes depend
// on the base path alone: render it once and serve it with a long cache lifetime.
#pragma once

#include <string>

#include "narwhal/render/json.hpp"

namespace narwhal::render {

// The context document, pretty-printed (people read it to learn the API's vocabulary).
[[nodiscard]] std::string render_context(const Site& site);

}  // namespace narwhal::render
