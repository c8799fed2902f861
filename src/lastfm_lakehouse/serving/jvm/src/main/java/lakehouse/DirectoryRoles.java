package lakehouse;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Hashtable;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import javax.naming.Context;
import javax.naming.NamingEnumeration;
import javax.naming.NamingException;
import javax.naming.directory.DirContext;
import javax.naming.directory.InitialDirContext;
import javax.naming.directory.SearchControls;
import javax.naming.directory.SearchResult;
import javax.naming.ldap.LdapName;

/**
 * A user's role from the LDAP groups they are a member of: {@code builder} (the builder group),
 * else {@code reader} (the reader group), else none. The server binds as its own service entry
 * (its password read from a file, never from a setting or a system property), searches the group
 * base for groups whose member attribute names the user's DN, and keeps the answer for a minute.
 */
public final class DirectoryRoles {
  static final String BUILDER = "builder";
  static final String READER = "reader";
  private static final long TTL_MILLIS = 60_000;

  private final String url;
  private final String bindDn;
  private final Path bindPasswordFile;
  private final String userDnPattern;
  private final String groupBase;
  private final String groupFilter;
  private final LdapName readerGroup;
  private final LdapName builderGroup;
  private final Map<String, Cached> cache = new ConcurrentHashMap<>();

  private record Cached(String role, long until) {}

  public DirectoryRoles(
      String url,
      String bindDn,
      String bindPasswordFile,
      String userDnPattern,
      String groupBase,
      String groupFilter,
      String readerGroup,
      String builderGroup)
      throws NamingException {
    this.url = url;
    this.bindDn = bindDn;
    this.bindPasswordFile = Path.of(bindPasswordFile);
    this.userDnPattern = userDnPattern;
    this.groupBase = groupBase;
    this.groupFilter = groupFilter;
    this.readerGroup = new LdapName(readerGroup);
    this.builderGroup = new LdapName(builderGroup);
  }

  /** The user's role, or null when they are in neither group. */
  String roleOf(String user) {
    long now = System.currentTimeMillis();
    Cached cached = cache.get(user);
    if (cached != null && cached.until() > now) {
      return cached.role();
    }
    String role = lookUp(user);
    cache.put(user, new Cached(role, now + TTL_MILLIS));
    return role;
  }

  private String lookUp(String user) {
    Set<LdapName> groups = new HashSet<>();
    DirContext directory = null;
    try {
      Hashtable<String, String> env = new Hashtable<>();
      env.put(Context.INITIAL_CONTEXT_FACTORY, "com.sun.jndi.ldap.LdapCtxFactory");
      env.put(Context.PROVIDER_URL, url);
      env.put(Context.SECURITY_AUTHENTICATION, "simple");
      env.put(Context.SECURITY_PRINCIPAL, bindDn);
      env.put(Context.SECURITY_CREDENTIALS, password());
      env.put("com.sun.jndi.ldap.connect.timeout", "5000");
      env.put("com.sun.jndi.ldap.read.timeout", "10000");
      directory = new InitialDirContext(env);
      SearchControls controls = new SearchControls();
      controls.setSearchScope(SearchControls.SUBTREE_SCOPE);
      controls.setReturningAttributes(new String[0]);
      String userDn = String.format(Locale.ROOT, userDnPattern, user);
      NamingEnumeration<SearchResult> found =
          directory.search(groupBase, groupFilter, new Object[] {userDn}, controls);
      while (found.hasMore()) {
        groups.add(new LdapName(found.next().getNameInNamespace()));
      }
    } catch (NamingException | IOException e) {
      // fail closed: a user whose groups cannot be read has no role
      throw new SecurityException(
          "lakehouse authorization: cannot read the groups of user '" + user + "' from " + url
              + ": " + e.getMessage(),
          e);
    } finally {
      if (directory != null) {
        try {
          directory.close();
        } catch (NamingException ignored) {
          // closing a finished search's connection
        }
      }
    }
    if (groups.contains(builderGroup)) {
      return BUILDER;
    }
    return groups.contains(readerGroup) ? READER : null;
  }

  private String password() throws IOException {
    return Files.readString(bindPasswordFile, StandardCharsets.UTF_8).strip();
  }
}
