"""After the sale: parcels followed to the door, returns authorised and received."""
