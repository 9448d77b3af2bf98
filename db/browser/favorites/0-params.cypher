// kgrec 0 · pick a customer and a product (edit the ids, then run)
:params {user_id: "17288", product_id: "22423"}
