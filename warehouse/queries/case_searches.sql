SELECT * FROM search_history WHERE case_number = ? ORDER BY searched_at;
