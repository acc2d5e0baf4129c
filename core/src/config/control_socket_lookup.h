// Where `postern reload -c FILE` finds the running instance: the [gateway] control_socket of FILE,
// read without validating (or loading the plugins of) the rest — the file being reloaded may well
// be the broken one, and its errors are the running instance's to report. Any thread.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace postern::config {

struct ControlSocketLookup {
    /** The socket path (Windows: pipe name), resolved like the loader does; empty with `off`
     * set when the file turns the control socket off. */
    std::string path;
    bool off = false;
    bool from_default = false;  ///< the file does not set the key: kDefaultControlSocket
};

/** nullopt with *error when the file cannot be read, is not TOML, or the key is not a string. */
std::optional<ControlSocketLookup> lookupControlSocket(const std::filesystem::path& file,
                                                       std::string* error);

}  // namespace postern::config
