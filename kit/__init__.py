"""The runtime kit: settings, logging, broker, database and HTTP set-up shared by every service.\n\nIt knows no service: services import it, never the other way round."""
