DROP TABLE partner_deliveries;
DROP TABLE partner_links;
DROP TABLE cancelled_bookings;
