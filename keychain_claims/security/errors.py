"""OSStatus codes and their texts (the comments of Security/base/SecBase.h) [SRC]."""
from keychain_claims.errors import SecurityAnswer


ITEM_NOT_FOUND = -25300
DUPLICATE_ITEM = -25299
INTERACTION_NOT_ALLOWED = -25308
AUTH_FAILED = -25293
NO_SUCH_KEYCHAIN = -25294
INVALID_KEYCHAIN = -25295
DUPLICATE_KEYCHAIN = -25296
NO_DEFAULT_KEYCHAIN = -25307
USER_CANCELED = -128
PARAM = -50
DECODE = -26275
# a Unix error inside Security (UnixError::osStatus: errno + errSecErrnoBase), printed as
# "UNIX[<strerror>]" by SecCopyErrorMessageString [SRC Security/OSX/libsecurity_utilities errors.cpp,
# SecBase.cpp]: a write of a keychain file that fails (ENOSPC: 100028, exit 188)
ERRNO_BASE = 100000
ERRNO_LIMIT = 100255

TEXT = {
    0: "No error.",
    ITEM_NOT_FOUND: "The specified item could not be found in the keychain.",
    DUPLICATE_ITEM: "The specified item already exists in the keychain.",
    INTERACTION_NOT_ALLOWED: "User interaction is not allowed.",
    AUTH_FAILED: "The user name or passphrase you entered is not correct.",
    NO_SUCH_KEYCHAIN: "The specified keychain could not be found.",
    INVALID_KEYCHAIN: "The specified keychain is not a valid keychain file.",
    DUPLICATE_KEYCHAIN: "A keychain with the same name already exists.",
    NO_DEFAULT_KEYCHAIN: "A default keychain could not be found.",
    USER_CANCELED: "User canceled the operation.",
    PARAM: "One or more parameters passed to a function were not valid.",
    DECODE: "Unable to decode the provided data.",
}


class SecError(SecurityAnswer):
    """An OSStatus raised by the model; commands turn it into output and an exit status."""

    def __init__(self, status: int, where: str = ""):
        super().__init__(TEXT.get(status, f"OSStatus {status}"))
        self.status = status
        self.where = where          # the damaged file, when the simulator's own state is at fault

    @classmethod
    def from_errno(cls, number: int | None) -> "SecError":
        import errno
        return cls(ERRNO_BASE + (number or errno.EIO))

    @property
    def text(self) -> str:
        text = TEXT.get(self.status, f"OSStatus {self.status}")
        if ERRNO_BASE <= self.status <= ERRNO_LIMIT:
            import os
            text = f"UNIX[{os.strerror(self.status - ERRNO_BASE)}]"
        return f"{text} ({self.where}; remove or restore that file)" if self.where else text


class Usage(SecurityAnswer):
    """Result 2: print the command's usage on stderr -- after `message` (getopt's own complaint,
    e.g. "security: illegal option -- x"), if any."""

    def __init__(self, message: str = ""):
        super().__init__(message)
        self.message = message


def exit_code(status: int) -> int:
    """`security` exits with the command's int result; the shell sees its low 8 bits."""
    return status & 0xFF
