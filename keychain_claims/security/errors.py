"""OSStatus codes and their texts (the comments of Security/base/SecBase.h) [SRC]."""

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


class SecError(Exception):
    """An OSStatus raised by the model; commands turn it into output and an exit status."""

    def __init__(self, status: int, where: str = ""):
        super().__init__(TEXT.get(status, f"OSStatus {status}"))
        self.status = status
        self.where = where          # the damaged file, when the simulator's own state is at fault

    @property
    def text(self) -> str:
        text = TEXT.get(self.status, f"OSStatus {self.status}")
        return f"{text} ({self.where}; remove or restore that file)" if self.where else text


class Usage(Exception):
    """Result 2: print the command's usage on stderr -- after `message` (getopt's own complaint,
    e.g. "security: illegal option -- x"), if any."""

    def __init__(self, message: str = ""):
        super().__init__(message)
        self.message = message


def exit_code(status: int) -> int:
    """`security` exits with the command's int result; the shell sees its low 8 bits."""
    return status & 0xFF
