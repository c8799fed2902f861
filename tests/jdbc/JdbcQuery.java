// A JDBC client as a BI tool is one: nothing but the driver jar on its class path.
//   java -cp hive-jdbc-4.0.1-standalone.jar JdbcQuery.java <url> <user> <password file> <sql>
// Prints each row's columns, tab-separated. The password is read from a file, never an argument.
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;

public class JdbcQuery {
    public static void main(String[] args) throws Exception {
        String password = Files.readString(Path.of(args[2])).strip();
        Class.forName("org.apache.hive.jdbc.HiveDriver");
        try (Connection connection = DriverManager.getConnection(args[0], args[1], password);
             Statement statement = connection.createStatement();
             ResultSet rows = statement.executeQuery(args[3])) {
            int columns = rows.getMetaData().getColumnCount();
            while (rows.next()) {
                StringBuilder line = new StringBuilder();
                for (int i = 1; i <= columns; i++) {
                    line.append(i > 1 ? "\t" : "").append(rows.getString(i));
                }
                System.out.println(line);
            }
        }
    }
}
