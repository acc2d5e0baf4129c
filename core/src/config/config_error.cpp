#include "config/model.h"

namespace postern::config {

std::string ConfigError::format() const {
    return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

}  // namespace postern::config
