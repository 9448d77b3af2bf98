// name: shop_profile
// purpose: what the shop's orders can support: returning customers, baskets of two or more products, products without text
// parameters:
// returns: customers, orders, order_lines, customers_2_orders, customers_3_orders, baskets_2_items, mean_basket_size, products, products_without_text
CALL {
  MATCH (u:User)
  WITH COUNT { (u)-[:PLACED]->(:Order) } AS placed
  WHERE placed > 0
  RETURN count(*) AS customers,
         sum(CASE WHEN placed >= 2 THEN 1 ELSE 0 END) AS customers_2_orders,
         sum(CASE WHEN placed >= 3 THEN 1 ELSE 0 END) AS customers_3_orders
}
CALL {
  MATCH (o:Order)
  WITH COUNT { (o)-[:CONTAINS]->(:Product) } AS lines
  RETURN count(*) AS orders, sum(lines) AS order_lines,
         sum(CASE WHEN lines >= 2 THEN 1 ELSE 0 END) AS baskets_2_items,
         CASE WHEN count(*) = 0 THEN 0.0 ELSE avg(toFloat(lines)) END AS mean_basket_size
}
CALL {
  MATCH (p:Product)
  RETURN count(*) AS products, sum(CASE WHEN p.embedding IS NULL THEN 1 ELSE 0 END) AS products_without_text
}
RETURN customers, orders, order_lines, customers_2_orders, customers_3_orders, baskets_2_items,
       mean_basket_size, products, products_without_text
