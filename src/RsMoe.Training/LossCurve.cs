namespace RsMoe.Training;

/// <summary>Draws a loss curve (raw steps in grey, a moving average in blue) as a PNG, with libvips for the encoding.</summary>
public static class LossCurve
{
    public static void Save(string path, IReadOnlyList<double> losses, int width = 640, int height = 360)
    {
        var pixels = new byte[width * height * 3];
        Array.Fill(pixels, (byte)255);
        if (losses.Count >= 2)
        {
            double max = losses.Max(), min = Math.Min(0, losses.Min());
            int margin = 24;
            (int X, int Y) Point(int i, double v) => (margin + (int)((width - 2 * margin) * i / (double)(losses.Count - 1)),
                height - margin - (int)((height - 2 * margin) * (v - min) / Math.Max(1e-9, max - min)));
            void Dot(int x, int y, (byte R, byte G, byte B) c)
            {
                if (x < 0 || y < 0 || x >= width || y >= height) return;
                int k = (y * width + x) * 3;
                pixels[k] = c.R; pixels[k + 1] = c.G; pixels[k + 2] = c.B;
            }
            void Line((int X, int Y) a, (int X, int Y) b, (byte, byte, byte) c)
            {
                int steps = Math.Max(Math.Abs(b.X - a.X), Math.Abs(b.Y - a.Y)) + 1;
                for (int s = 0; s <= steps; s++) Dot(a.X + (b.X - a.X) * s / steps, a.Y + (b.Y - a.Y) * s / steps, c);
            }
            Line((margin, height - margin), (width - margin, height - margin), (0, 0, 0));
            Line((margin, margin), (margin, height - margin), (0, 0, 0));
            for (int i = 1; i < losses.Count; i++) Line(Point(i - 1, losses[i - 1]), Point(i, losses[i]), (190, 190, 190));
            int window = Math.Max(1, losses.Count / 50);
            double Smoothed(int i) => losses.Skip(Math.Max(0, i - window + 1)).Take(Math.Min(window, i + 1)).Average();
            for (int i = 1; i < losses.Count; i++) Line(Point(i - 1, Smoothed(i - 1)), Point(i, Smoothed(i)), (30, 90, 200));
        }
        using var image = NetVips.Image.NewFromMemory(pixels, width, height, 3, NetVips.Enums.BandFormat.Uchar);
        image.WriteToFile(path);
    }
}
