"""What people look at: progress (text and widget), the footprint map and the HTML report."""
