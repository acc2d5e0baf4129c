#include "posix/privileges.h"

#include <grp.h>
#include <pwd.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace postern::service {

bool dropPrivileges(const std::string& user, std::string* error) {
    auto fail = [&](const std::string& why) {
        if (error) *error = "cannot switch to user '" + user + "': " + why;
        return false;
    };
    std::vector<char> buf(16384);
    passwd pw{};
    passwd* found = nullptr;
    int rc = ::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
    if (rc != 0) return fail(std::strerror(rc));
    if (!found) return fail("no such user");
    const uid_t uid = pw.pw_uid;
    const gid_t gid = pw.pw_gid;

    if (::getuid() == uid && ::geteuid() == uid && ::getgid() == gid && ::getegid() == gid)
        return true;
    if (::geteuid() != 0)
        return fail("postern runs as uid " + std::to_string(::geteuid()) +
                    ", and only root can switch users");

    if (::initgroups(user.c_str(), gid) != 0)
        return fail(std::string("initgroups: ") + std::strerror(errno));
    if (::setgid(gid) != 0) return fail(std::string("setgid: ") + std::strerror(errno));
    if (::setuid(uid) != 0) return fail(std::string("setuid: ") + std::strerror(errno));

    if (::getuid() != uid || ::geteuid() != uid || ::getgid() != gid || ::getegid() != gid)
        return fail("the ids did not change");
    if (uid != 0 && (::setuid(0) == 0 || ::seteuid(0) == 0)) return fail("root could be regained");
    return true;
}

}  // namespace postern::service
