/* A test caller for keychain-claims: reads, grants and inspects the scratch keychain's items as
 * the program it is (its own code signature), with user interaction disabled, so a read that
 * needs consent fails at once with errSecInteractionNotAllowed instead of raising a dialog.
 * Built and signed per identity on the Mac by keychain_claims/backends/macos/callers.py.
 *
 *   testcaller find-generic-password [-a acct] [-s svce] [-w] KEYCHAIN   read as this program
 *   testcaller grant|revoke -a acct -s svce -t PATH KEYCHAIN             add/remove PATH in the item's
 *                                       decrypt ACL entry (keychain password on stdin, one line)
 *   testcaller status KEYCHAIN                                           prints locked or unlocked
 *   testcaller add-generic-password [-U] -a acct -s svce -x|-p KEYCHAIN   write as this program; the
 *                                       secret on stdin, one line (-x: hex, -p: text)
 *   testcaller nogui -- PROGRAM ARGS...                                  run PROGRAM in a new security
 *                                       session without window-server access (root only, see below)
 *   testcaller session                                                   prints this process's security
 *                                       session: id=N attrs=0xBITS (SessionGetInfo, Security/AuthSession.h)
 * Exit status: the OSStatus's low byte, as security(1) does.  KC_BUILD makes each build distinct.
 *
 * `nogui`: SessionCreate(0, 0) (Security/AuthSession.h) gives this process a new security (audit)
 * session whose flags -- what SessionGetInfo reports as its attributes -- are the 0 it is given, so
 * no sessionHasGraphicAccess (OSX/libsecurity_authorization/lib/Authorization.cpp: SessionCreate ->
 * CommonCriteria::AuditInfo::create, ai_flags = attributes; creation flags such as
 * sessionKeepCurrentBootstrap are "not supported anymore" and only logged); launchd's SessionCreate key does
 * the same for a job (launchd.plist(5)).  In such a session securityd cannot reach SecurityAgent and a
 * read that needs consent fails at once with errSecInteractionNotAllowed (exit 36), as over SSH.  That
 * is an assumption until a Mac run's `keychain-claims assumptions --settle` holds it (SESSION-NO-UI).
 * SessionCreate ends in setaudit_addr(AU_ASSIGN_ASID), which XNU allows root only (suser(), in
 * bsd/security/audit/audit_syscalls.c): as any other user it fails with EPERM, OSStatus 100001
 * (errSecErrnoBase + errno), exit 161.  So `nogui` is used once per sandbox, under sudo, in front of
 * the session broker (session.py), never per call.
 *
 * Public headers only (Xcode 12 on: a call to an undeclared function is an error).  Always Allow's
 * effect needs SecKeychainItemSetAccessWithPassword, which Security.framework exports but only the
 * private SecKeychainItemPriv.h declares; it is looked up at run time (dlsym), so the build needs no
 * declaration of it and a framework without it answers errSecUnimplemented. */
#include <Security/Security.h>
#include <Security/AuthSession.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <ctype.h>
#include <dlfcn.h>

#ifndef KC_BUILD
#define KC_BUILD "1"
#endif
static const char *build_tag = "keychain-claims test caller build " KC_BUILD;

static int fail(const char *what, OSStatus st) {
    CFStringRef msg = SecCopyErrorMessageString(st, NULL);
    char text[512] = "";
    if (msg) { CFStringGetCString(msg, text, sizeof text, kCFStringEncodingUTF8); CFRelease(msg); }
    fprintf(stderr, "testcaller: %s: %s\n", what, text);
    return st & 0xff;
}

static int find_item(int argc, char **argv, const char **acct, const char **svce, int *show,
                     SecKeychainRef *kc, SecKeychainItemRef *item) {
    int c;
    optind = 2;
    while ((c = getopt(argc, argv, "a:s:wg")) != -1) {
        if (c == 'a') *acct = optarg; else if (c == 's') *svce = optarg; else if (c == 'w' || c == 'g') *show = 1;
    }
    if (optind >= argc) { fprintf(stderr, "testcaller: name the keychain\n"); return 2; }
    OSStatus st = SecKeychainOpen(argv[optind], kc);
    if (st) return fail("SecKeychainOpen", st);
    st = SecKeychainFindGenericPassword(*kc, *svce ? (UInt32)strlen(*svce) : 0, *svce,
                                        *acct ? (UInt32)strlen(*acct) : 0, *acct, NULL, NULL, item);
    if (st) return fail("SecKeychainSearchCopyNext", st);
    return 0;
}

static int change_access(int argc, char **argv, int add) {
    const char *acct = "", *svce = "", *path = NULL;
    int show = 0;
    for (int i = 2; i + 1 < argc; i++) if (!strcmp(argv[i], "-t")) { path = argv[i + 1]; argv[i] = "-w"; argv[i + 1] = "-w"; }
    SecKeychainRef kc; SecKeychainItemRef item;
    int rc = find_item(argc, argv, &acct, &svce, &show, &kc, &item);
    if (rc) return rc;
    char password[1024];
    if (!fgets(password, sizeof password, stdin)) return fail("reading the keychain password", errSecAuthFailed);
    password[strcspn(password, "\n")] = 0;
    SecAccessRef access; SecTrustedApplicationRef app;
    OSStatus st = SecKeychainItemCopyAccess(item, &access);
    if (st) return fail("SecKeychainItemCopyAccess", st);
    st = SecTrustedApplicationCreateFromPath(path, &app);
    if (st) return fail("SecTrustedApplicationCreateFromPath", st);
    CFArrayRef acls = SecAccessCopyMatchingACLList(access, kSecACLAuthorizationDecrypt);
    for (CFIndex i = 0; acls && i < CFArrayGetCount(acls); i++) {
        SecACLRef acl = (SecACLRef)CFArrayGetValueAtIndex(acls, i);
        CFArrayRef apps = NULL; CFStringRef desc = NULL; SecKeychainPromptSelector prompt;
        st = SecACLCopyContents(acl, &apps, &desc, &prompt);
        if (st) return fail("SecACLCopyContents", st);
        if (!apps) continue;                                   /* <null>: any application already */
        CFMutableArrayRef next = CFArrayCreateMutable(NULL, 0, &kCFTypeArrayCallBacks);
        CFDataRef want = NULL; SecTrustedApplicationCopyData(app, &want);
        if (add) CFArrayAppendValue(next, app);                /* Always Allow puts it at the front */
        for (CFIndex j = 0; j < CFArrayGetCount(apps); j++) {
            SecTrustedApplicationRef have = (SecTrustedApplicationRef)CFArrayGetValueAtIndex(apps, j);
            CFDataRef data = NULL; SecTrustedApplicationCopyData(have, &data);
            int same = data && want && CFEqual(data, want);
            if (data) CFRelease(data);
            if (!same) CFArrayAppendValue(next, have);
        }
        st = SecACLSetContents(acl, next, desc, prompt);
        if (st) return fail("SecACLSetContents", st);
    }
    typedef OSStatus (*set_access_with_password)(SecKeychainItemRef, SecAccessRef, UInt32, const void *);
    set_access_with_password set = (set_access_with_password)dlsym(RTLD_DEFAULT, "SecKeychainItemSetAccessWithPassword");
    st = set ? set(item, access, (UInt32)strlen(password), password) : errSecUnimplemented;
    memset(password, 0, sizeof password);
    if (st) return fail("SecKeychainItemSetAccessWithPassword", st);
    return 0;
}

static int from_hex(const char *hex, char *out, size_t cap, size_t *len) {
    size_t n = strlen(hex);
    if (n % 2 || n / 2 > cap) return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned int byte;
        if (sscanf(hex + 2 * i, "%2x", &byte) != 1) return -1;
        out[i] = (char)byte;
    }
    *len = n / 2;
    return 0;
}

static int write_item(int argc, char **argv) {
    const char *acct = "", *svce = "";
    int update = 0, hex = 0, c;
    optind = 2;
    while ((c = getopt(argc, argv, "Ua:s:xp")) != -1) {
        if (c == 'U') update = 1; else if (c == 'a') acct = optarg; else if (c == 's') svce = optarg;
        else if (c == 'x') hex = 1;
    }
    if (optind >= argc) { fprintf(stderr, "testcaller: name the keychain\n"); return 2; }
    static char line[16384], secret[16384];
    size_t length = 0;
    if (!fgets(line, sizeof line, stdin)) return fail("reading the secret", errSecParam);
    line[strcspn(line, "\n")] = 0;
    if (hex) { if (from_hex(line, secret, sizeof secret, &length)) return fail("reading the hex secret", errSecParam); }
    else { length = strlen(line); memcpy(secret, line, length); }
    SecKeychainRef kc; SecKeychainItemRef item = NULL;
    OSStatus st = SecKeychainOpen(argv[optind], &kc);
    if (st) return fail("SecKeychainOpen", st);
    st = SecKeychainFindGenericPassword(kc, (UInt32)strlen(svce), svce, (UInt32)strlen(acct), acct, NULL, NULL, &item);
    if (st == errSecSuccess && update)          /* -U: the item is changed in place, as security's -U does */
        st = SecKeychainItemModifyAttributesAndData(item, NULL, (UInt32)length, secret);
    else if (st == errSecItemNotFound)
        st = SecKeychainAddGenericPassword(kc, (UInt32)strlen(svce), svce, (UInt32)strlen(acct), acct,
                                           (UInt32)length, secret, NULL);
    else if (st == errSecSuccess)
        st = errSecDuplicateItem;
    memset(line, 0, sizeof line); memset(secret, 0, sizeof secret);
    if (st) return fail("SecKeychainItemModifyAttributesAndData", st);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: testcaller find-generic-password|add-generic-password|grant|revoke|status|session|nogui ...\n"); return 2; }
    if (!strcmp(argv[1], "nogui")) {
        int at = (argc > 2 && !strcmp(argv[2], "--")) ? 3 : 2;
        if (at >= argc) { fprintf(stderr, "testcaller: nogui needs a program\n"); return 2; }
        OSStatus st = SessionCreate(0, 0);
        if (st) return fail("SessionCreate", st);
        execv(argv[at], argv + at);
        perror("testcaller: execv");
        return 1;
    }
    if (!strcmp(argv[1], "session")) {
        SecuritySessionId id; SessionAttributeBits attrs;
        OSStatus st = SessionGetInfo(callerSecuritySession, &id, &attrs);
        if (st) return fail("SessionGetInfo", st);
        printf("id=%u attrs=0x%x\n", (unsigned)id, (unsigned)attrs);
        return 0;
    }
    SecKeychainSetUserInteractionAllowed(false);
    if (!strcmp(argv[1], "add-generic-password")) return write_item(argc, argv);
    if (!strcmp(argv[1], "status")) {
        SecKeychainRef kc; SecKeychainStatus status;
        OSStatus st = argc > 2 ? SecKeychainOpen(argv[2], &kc) : errSecNoSuchKeychain;
        if (st) return fail("SecKeychainOpen", st);
        st = SecKeychainGetStatus(kc, &status);
        if (st) return fail("SecKeychainGetStatus", st);
        puts(status & kSecUnlockStateStatus ? "unlocked" : "locked");
        return 0;
    }
    if (!strcmp(argv[1], "grant")) return change_access(argc, argv, 1);
    if (!strcmp(argv[1], "revoke")) return change_access(argc, argv, 0);
    if (strncmp(argv[1], "find-generic-password", strlen(argv[1])) != 0) {
        fprintf(stderr, "testcaller: %s is not a read (%s)\n", argv[1], build_tag);
        return 1;
    }
    const char *acct = "", *svce = "";
    int show = 0;
    SecKeychainRef kc; SecKeychainItemRef item;
    int rc = find_item(argc, argv, &acct, &svce, &show, &kc, &item);
    if (rc) return rc;
    UInt32 length; void *data;
    OSStatus st = SecKeychainItemCopyContent(item, NULL, NULL, &length, &data);
    if (st) return fail("SecKeychainItemCopyContent", st);
    int printable = 1;
    for (UInt32 i = 0; i < length; i++) if (!isprint(((unsigned char *)data)[i])) printable = 0;
    for (UInt32 i = 0; i < length; i++) printf(printable ? "%c" : "%02x", ((unsigned char *)data)[i]);
    putchar('\n');
    SecKeychainItemFreeContent(NULL, data);
    return 0;
}
