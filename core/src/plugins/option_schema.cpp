#include "plugins/option_schema.h"

#include "config/value_reader.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>

#include <climits>
#include <sstream>
#include <stdexcept>

namespace vitals {

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

// Validates one option value against its spec and returns it normalised (see vitals_option_type).
std::optional<Var> normalise_option(ValueReader& r, const OptionSpec& spec, const Var& v, const std::string& path) {
    switch (spec.type) {
    case VITALS_OPTION_STRING:
        if (auto s = r.string_value(v, path)) return Var(*s);
        return std::nullopt;
    case VITALS_OPTION_INT:
        if (auto i = r.integer_value(v, path, INT64_MIN, INT64_MAX)) return Var(Poco::Int64(*i));
        return std::nullopt;
    case VITALS_OPTION_NUMBER:
        if (auto d = r.number_value(v, path)) return Var(*d);
        return std::nullopt;
    case VITALS_OPTION_BOOL:
        if (auto b = r.boolean_value(v, path)) return Var(*b);
        return std::nullopt;
    case VITALS_OPTION_DURATION:
        if (auto d = r.duration_value(v, path)) return Var(Poco::Int64(d->count()));
        return std::nullopt;
    case VITALS_OPTION_STRING_LIST: {
        if (!is_json_array(v)) {
            r.error(path, "expected an array of strings, got " + json_kind(v));
            return std::nullopt;
        }
        auto in = v.extract<Array::Ptr>();
        Array::Ptr out = new Array;
        bool ok = true;
        for (size_t i = 0; i < in->size(); ++i) {
            auto s = r.string_value(in->get(unsigned(i)), path + "[" + std::to_string(i) + "]");
            if (s)
                out->add(*s);
            else
                ok = false;
        }
        if (!ok) return std::nullopt;
        return Var(out);
    }
    case VITALS_OPTION_STRING_MAP: {
        auto in = r.object(v, path);
        if (!in) return std::nullopt;
        Object::Ptr out = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
        bool ok = true;
        for (const auto& key : in->getNames()) {
            auto s = r.string_value(in->get(key), path + "." + key);
            if (s)
                out->set(key, *s);
            else
                ok = false;
        }
        if (!ok) return std::nullopt;
        return Var(out);
    }
    }
    r.error(path, "option has an unknown type in the plugin's schema");
    return std::nullopt;
}

std::string stringify(const Object::Ptr& o) {
    std::ostringstream os;
    o->stringify(os);
    return os.str();
}

// Parses any JSON value; wrapped in an array because Poco's parser rejects bare scalars ("10").
Var parse_json_value(const std::string& text) {
    Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(true));
    Var v = parser.parse("[" + text + "]");
    auto a = v.extract<Array::Ptr>();
    if (a->size() != 1) throw std::runtime_error("not a single JSON value");
    return a->get(0);
}

// Validates one check's options (`given`, as written) against its type's schema and fills in
// defaults; returns the options as JSON text.
std::string read_options(ValueReader& r, const std::optional<Var>& written, const std::string& path,
                         const CheckTypeInfo& type) {
    std::string opath = path + ".options";
    Object::Ptr given;
    if (written) given = r.object(*written, opath);
    if (!given) given = new Object;

    std::vector<std::string> known;
    for (const auto& spec : type.options) known.push_back(spec.name);
    for (const auto& key : given->getNames()) {
        if (!type.find_option(key))
            r.error(opath + "." + key, "unknown option for type \"" + type.name + "\"; known: " +
                                           (known.empty() ? std::string("(none)") : join_names(known)));
    }

    Object::Ptr normal = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    for (const auto& spec : type.options) {
        std::string p = opath + "." + spec.name;
        std::optional<Var> value;
        if (given->has(spec.name) && !given->get(spec.name).isEmpty()) {
            value = normalise_option(r, spec, given->get(spec.name), p);
        } else if (spec.required) {
            r.error(p, "required option is missing (" + spec.help + ")");
            continue;
        } else if (spec.default_json) {
            try {
                Var def = parse_json_value(*spec.default_json);
                std::vector<std::string> ignored;
                ValueReader quiet(r.env(), ignored);
                value = normalise_option(quiet, spec, def, p);
                if (!ignored.empty()) r.error(p, "plugin's default is invalid: " + ignored.front());
            } catch (const std::exception& e) {
                r.error(p, "plugin's default is not valid JSON: " + *spec.default_json);
            }
        }
        if (value) normal->set(spec.name, *value);
    }
    return stringify(normal);
}

}  // namespace

std::vector<std::string> validate_check_options(ParsedConfig& parsed, const PluginRegistry& registry,
                                                const EnvLookup& env) {
    // parsed.errors are merged with the new ones at the places the structure step noted, so the
    // report reads in file order as one pass would have written it.
    std::vector<std::string> all;
    size_t merged = 0;  // parsed.errors copied so far
    auto up_to = [&](size_t at) {
        for (; merged < at && merged < parsed.errors.size(); ++merged) all.push_back(parsed.errors[merged]);
    };
    ValueReader r(env, all);
    for (const auto& c : parsed.options) {
        up_to(c.type_errors_at);
        const CheckTypeInfo* type = registry.find(c.type);
        if (!type) {
            std::string known = join_names(registry.type_names());
            r.error(c.path + ".type", "unknown check type \"" + c.type + "\"; known: " +
                                          (known.empty() ? std::string("(no plugins loaded)") : known));
            continue;
        }
        up_to(c.option_errors_at);
        std::string options_json = read_options(r, c.options, c.path, *type);
        if (c.check) parsed.config.checks[*c.check].options_json = std::move(options_json);
    }
    up_to(parsed.errors.size());
    return all;
}

Config parse_config(const std::string& json_text, const EnvLookup& env, const PluginRegistry& registry,
                    const std::string& source) {
    ParsedConfig parsed = parse_config_structure(json_text, env, source);
    std::vector<std::string> errors = validate_check_options(parsed, registry, env);
    if (!errors.empty()) throw ConfigError(std::move(errors));
    return std::move(parsed.config);
}

}  // namespace vitals
