"""Who uses the API and what each may do: users, their roles and districts, API tokens
(`accounts`), and the guards every route puts in front of its work (`guards`). Every
domain's router depends on it; it depends on none of them."""
