/*
 * Deletes a topic's records below given offsets, as kafka-delete-records.sh
 * does (the Admin API's deleteRecords), for tests/fault/statelib.py:
 *
 *   java -cp KAFKA_CLASSPATH DeleteRecords.java BOOTSTRAP TOPIC PART:OFFSET...
 *
 * prints "deleted PART LOW_WATERMARK" per partition.
 */
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DeletedRecords;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.TopicPartition;

public class DeleteRecords {
	public static void main(String[] args) throws Exception {
		Properties props = new Properties();
		Map<TopicPartition, RecordsToDelete> todo = new HashMap<>();

		props.put("bootstrap.servers", args[0]);
		for (int i = 2; i < args.length; i++) {
			String[] po = args[i].split(":");
			todo.put(new TopicPartition(args[1], Integer.parseInt(po[0])),
				 RecordsToDelete.beforeOffset(Long.parseLong(po[1])));
		}
		try (Admin admin = Admin.create(props)) {
			for (Map.Entry<TopicPartition, KafkaFuture<DeletedRecords>> e :
			     admin.deleteRecords(todo).lowWatermarks().entrySet())
				System.out.println("deleted " + e.getKey().partition() + " " +
						   e.getValue().get().lowWatermark());
		}
	}
}
