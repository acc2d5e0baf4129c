// Dropping root after the listeners are bound ([gateway] user).
#pragma once

#include <string>

namespace postern::service {

/** Switches the whole process — every thread, through glibc's set*id broadcast — to `user`:
 * its supplementary groups, primary group and uid, then checks that root cannot be regained.
 * Already running as that user (systemd's User=postern): nothing to do. Not root and another
 * user: an error. False with *error naming the user and the cause. */
bool dropPrivileges(const std::string& user, std::string* error);

}  // namespace postern::service
